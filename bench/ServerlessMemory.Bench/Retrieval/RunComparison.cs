using System.Globalization;
using System.Text.Json;

/// <summary>
/// `--save <file>` keeps ours' score of every question; `--against <file>` compares this run's with them,
/// question by question: how a ranking change moved each set's test half, beyond what the totals show.
/// Run main with --save, then the change with --against (same data, same bench).
/// </summary>
internal static class RunComparison
{
    private sealed record Saved(string Set, string Id, double R5, double R10, double Ndcg);

    public static void Save(string path, IReadOnlyList<(LabelledSet Set, SystemRun Ours)> runs)
    {
        var rows = runs.SelectMany(r => r.Set.Questions.Select((q, i) => new Saved(r.Set.Name, q.Id, r.Ours.Scores[i].R5, r.Ours.Scores[i].R10, r.Ours.Scores[i].Ndcg)));
        File.WriteAllText(path, JsonSerializer.Serialize(rows));
        Console.WriteLine($"ours' scores of every question saved to {path}");
    }

    public static void PrintAgainst(string path, IReadOnlyList<(LabelledSet Set, SystemRun Ours)> runs)
    {
        var before = JsonSerializer.Deserialize<List<Saved>>(File.ReadAllText(path))!.ToDictionary(s => (s.Set, s.Id));
        Console.WriteLine();
        Console.WriteLine($"Against {path}, test half, questions in both runs; Recall@5 / Recall@10 / nDCG@10:");
        Console.WriteLine();
        Console.WriteLine("| set | questions | before | now | R@5 change (points) | R@5 better / worse (sign test z) |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (var (set, ours) in runs)
        {
            var pairs = set.Questions.Select((q, i) => (q, i)).Where(x => x.q.Half == Half.Test && before.ContainsKey((set.Name, x.q.Id)))
                .Select(x => (Was: before[(set.Name, x.q.Id)], Now: ours.Scores[x.i])).ToList();
            if (pairs.Count == 0) continue;
            var was = Score.Mean([.. pairs.Select(p => new Score(p.Was.R5, p.Was.R10, p.Was.Ndcg))]);
            var now = Score.Mean([.. pairs.Select(p => p.Now)]);
            var better = pairs.Count(p => p.Now.R5 > p.Was.R5);
            var worse = pairs.Count(p => p.Now.R5 < p.Was.R5);
            var z = better + worse == 0 ? 0 : (better - worse) / Math.Sqrt(better + worse);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {set.Name} | {pairs.Count} | {was} | {now} | {(now.R5 - was.R5) * 100:+0.0;-0.0} | {better} / {worse} ({z:+0.0;-0.0}) |"));
        }
    }
}
