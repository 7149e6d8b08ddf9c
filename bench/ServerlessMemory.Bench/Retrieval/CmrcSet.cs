using System.Text.Json.Nodes;

/// <summary>
/// CMRC 2018 dev (ymcui/cmrc2018, SQuAD-style file): each paragraph cut into sentences (。！？), 100
/// paragraphs a user; the evidence is the sentence holding the first labelled answer's start. Not a
/// conversation: it keeps Chinese reading comprehension in the bench. No categories.
/// </summary>
internal static class CmrcSet
{
    public static string? Find(string data) =>
        new[] { "cmrc2018_dev.json", "cmrc2018/cmrc2018_dev.json" }.Select(p => Path.Combine(data, p)).FirstOrDefault(File.Exists);

    public static LabelledSet Load(string path)
    {
        var root = JsonNode.Parse(File.ReadAllText(path))!;
        var paragraphs = root["data"]!.AsArray().SelectMany(a => a!["paragraphs"]!.AsArray()).ToList();
        var memories = new Dictionary<string, List<(string, string)>>(StringComparer.Ordinal);
        var questions = new List<LabelledQuestion>();
        for (var p = 0; p < paragraphs.Count; p++)
        {
            var user = $"cmrc-{p / 100}";
            if (!memories.TryGetValue(user, out var list)) memories[user] = list = [];
            var context = (string)paragraphs[p]!["context"]!;
            var spans = new List<(int Start, int End)>();
            var start = 0;
            for (var i = 0; i < context.Length; i++)
                if (context[i] is '。' or '！' or '？' || i == context.Length - 1)
                {
                    if (context[start..(i + 1)].Trim().Length > 0) spans.Add((start, i + 1));
                    start = i + 1;
                }
            for (var s = 0; s < spans.Count; s++) list.Add(($"{p}:{s}", context[spans[s].Start..spans[s].End].Trim()));
            foreach (var qa in paragraphs[p]!["qas"]!.AsArray())
            {
                var at = (int)qa!["answers"]!.AsArray()[0]!["answer_start"]!;
                var s = spans.FindIndex(x => at >= x.Start && at < x.End);
                if (s >= 0) questions.Add(new((string)qa["id"]!, user, (string)qa["question"]!, new HashSet<string>([$"{p}:{s}"], StringComparer.Ordinal), "all"));
            }
        }
        return new("CMRC 2018 dev", Language.Chinese, memories, questions);
    }
}
