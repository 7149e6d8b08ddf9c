// The engine's lexical ranking alone, over the retrieval sets' tuning half, for several settings in one
// run: each user's memories in a Core LexicalIndex, each question's matches scored by ArchiveRanking as
// the search scores them (equal decay and importance, as the retrieval bench stores them). For tuning
// general settings quickly; `retrieval` is what reports (through the store, beside Lucene).
//   dotnet run -c Release --project bench/ServerlessMemory.Bench -- tune --data /work/data [--half test]
//        [--settings "k1=1.2,b=0.75,cjk=0;k1=1.2,b=0.75,cjk=0.3"]
using System.Globalization;
using ServerlessMemory.Core;

internal static class TuneBench
{
    public static void Run(string[] args)
    {
        var data = Arg(args, "--data") ?? "/work/data";
        var half = Arg(args, "--half") is "test" ? Half.Test : Half.Tuning;
        var settings = (Arg(args, "--settings") ?? "k1=1.2,b=0.75,cjk=0").Split(';').Select(Parse).ToList();
        (string Name, Func<string, string?> Find, Func<string, LabelledSet> Load)[] known =
        [
            ("LoCoMo", LoCoMoSet.Find, LoCoMoSet.Load), ("FriendsQA", FriendsQaSet.Find, FriendsQaSet.Load),
            ("CMRC", CmrcSet.Find, CmrcSet.Load), ("MemDaily", MemDailySet.Find, MemDailySet.Load),
        ];
        var results = settings.Select(_ => new List<string>()).ToList();
        foreach (var (name, find, load) in known)
        {
            if (find(data) is not { } path) continue;
            var set = load(path).AsStored();
            var indexes = set.Memories.ToDictionary(m => m.Key, m =>
            {
                var index = new LexicalIndex();
                index.Add(m.Value.Select(x => (x.Key, x.Content)));
                return index;
            }, StringComparer.Ordinal);
            var questions = set.Questions.Where(q => q.Half == half).ToList();
            for (var s = 0; s < settings.Count; s++)
            {
                var (options, label) = settings[s];
                double r5 = 0, r10 = 0;
                foreach (var q in questions)
                {
                    var (terms, weights) = LexicalTerms.WeightedQuery(q.Text, options.CjkCharacterWeight, options.ContextWeight);
                    var best = ArchiveRanking.Best(indexes[q.User].Match(terms), 10, options, weights).Select(b => b.Id).ToList();
                    r5 += best.Take(5).Count(q.Evidence.Contains) / (double)q.Evidence.Count;
                    r10 += best.Count(q.Evidence.Contains) / (double)q.Evidence.Count;
                }
                results[s].Add(string.Create(CultureInfo.InvariantCulture, $"{name} {r5 / questions.Count:F3}/{r10 / questions.Count:F3}"));
            }
        }
        for (var s = 0; s < settings.Count; s++) Console.WriteLine($"tune {half} {settings[s].Label,-36} {string.Join("  ", results[s])}");
    }

    private static (SearchOptions Options, string Label) Parse(string text)
    {
        var options = new SearchOptions();
        foreach (var pair in text.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var (key, value) = (pair.Split('=')[0].Trim(), double.Parse(pair.Split('=')[1], CultureInfo.InvariantCulture));
            switch (key)
            {
                case "k1": options.K1 = value; break;
                case "b": options.B = value; break;
                case "cjk": options.CjkCharacterWeight = value; break;
                case "floor": options.MinLexicalRelevance = value; break;
                case "context": options.ContextWeight = value; break;
                default: throw new ArgumentException($"unknown setting {key}");
            }
        }
        return (options, text);
    }

    private static string? Arg(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
