using System.Diagnostics;
using System.Globalization;

internal enum Role { Baseline, Ours, Other }

/// <summary>Recall@5, Recall@10 (share of the question's evidence in the top k) and nDCG@10 (binary gains) of one question.</summary>
internal readonly record struct Score(double R5, double R10, double Ndcg)
{
    public static Score Of(LabelledQuestion q, IReadOnlyList<string> ranked)
    {
        var dcg = ranked.Take(10).Select((key, i) => q.Evidence.Contains(key) ? 1 / Math.Log2(i + 2) : 0).Sum();
        var ideal = Enumerable.Range(0, Math.Min(10, q.Evidence.Count)).Sum(i => 1 / Math.Log2(i + 2));
        return new(ranked.Take(5).Count(q.Evidence.Contains) / (double)q.Evidence.Count,
            ranked.Take(10).Count(q.Evidence.Contains) / (double)q.Evidence.Count, dcg / ideal);
    }

    public static Score Mean(IReadOnlyCollection<Score> scores) =>
        scores.Count == 0 ? default : new(scores.Average(s => s.R5), scores.Average(s => s.R10), scores.Average(s => s.Ndcg));

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{R5:F3} / {R10:F3} / {Ndcg:F3}");
}

/// <summary>One search's ranking of every question of a set (its top 10 keys), scored.</summary>
internal sealed record SystemRun(string Name, Role Role, IReadOnlyList<string>[] Rankings, Score[] Scores, double MsPerQuestion)
{
    public static SystemRun Of(string name, Role role, LabelledSet set, Func<LabelledQuestion, IReadOnlyList<string>> rank)
    {
        var clock = Stopwatch.StartNew();
        var rankings = set.Questions.Select(rank).ToArray();
        var elapsed = clock.Elapsed;
        var scores = set.Questions.Select((q, i) => Score.Of(q, rankings[i])).ToArray();
        return new(name, role, rankings, scores, elapsed.TotalMilliseconds / Math.Max(1, set.Questions.Count));
    }

    public Score Mean(LabelledSet set, Half half, string? category = null) =>
        Score.Mean([.. set.Questions.Select((q, i) => (q, i)).Where(x => x.q.Half == half && (category is null || x.q.Category == category)).Select(x => Scores[x.i])]);
}

/// <summary>A set's test-half (or tuning-half) figures for the closing summary: ours against the stronger Lucene analyzer.</summary>
internal sealed record SetSummary(string Set, Half Half, int Questions, string Baseline, Score Lucene, Score Ours, int Better, int Worse)
{
    /// <summary>Sign test over the questions whose Recall@5 differs: how many standard deviations the split is from even.</summary>
    public double Z => Better + Worse == 0 ? 0 : (Better - Worse) / Math.Sqrt(Better + Worse);

    public double GainR5 => Gain(Ours.R5, Lucene.R5);
    public double GainR10 => Gain(Ours.R10, Lucene.R10);

    public static double Gain(double ours, double baseline) => baseline == 0 ? 0 : ours / baseline - 1;
}

internal static class RetrievalReport
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>
    /// One markdown table per set: each half (test first), all questions then each category, every search's
    /// Recall@5 / Recall@10 / nDCG@10 side by side, and ours against the stronger Lucene analyzer on that row.
    /// </summary>
    public static List<SetSummary> Print(LabelledSet set, IReadOnlyList<SystemRun> runs)
    {
        var categories = set.Questions.Select(q => q.Category).Distinct().Order(StringComparer.Ordinal).ToList();
        var ours = runs.First(r => r.Role == Role.Ours);
        var baselines = runs.Where(r => r.Role == Role.Baseline).ToList();
        Console.WriteLine();
        Console.WriteLine($"| {set.Name}: half | category | questions | {string.Join(" | ", runs.Select(r => r.Name))} | ours vs Lucene R@5 / R@10 |");
        Console.WriteLine($"|---|---|---|{string.Concat(runs.Select(_ => "---|"))}---|");
        var summaries = new List<SetSummary>();
        foreach (var half in new[] { Half.Test, Half.Tuning })
            foreach (var category in categories.Count > 1 ? [null, .. categories] : new string?[] { null })
            {
                var n = set.Questions.Count(q => q.Half == half && (category is null || q.Category == category));
                if (n == 0) continue;
                var means = runs.Select(r => r.Mean(set, half, category)).ToList();
                var best = baselines.MaxBy(b => b.Mean(set, half, category).R5)!;
                var lucene = best.Mean(set, half, category);
                var mine = ours.Mean(set, half, category);
                var cells = means.Select((m, i) => runs[i] == ours ? $"**{m}**" : m.ToString());
                Console.WriteLine(string.Create(Invariant,
                    $"| {(half == Half.Test ? "test" : "tuning")} | {category ?? "all"} | {n} | {string.Join(" | ", cells)} | {SetSummary.Gain(mine.R5, lucene.R5):+0.0%;-0.0%} / {SetSummary.Gain(mine.R10, lucene.R10):+0.0%;-0.0%} |"));
                if (category is null)
                {
                    var pairs = set.Questions.Select((q, i) => (q, i)).Where(x => x.q.Half == half).Select(x => ours.Scores[x.i].R5 - best.Scores[x.i].R5).ToList();
                    summaries.Add(new(set.Name, half, n, best.Name, lucene, mine, pairs.Count(d => d > 0), pairs.Count(d => d < 0)));
                }
            }
        Console.WriteLine(string.Create(Invariant, $"  time per question: {string.Join(", ", runs.Select(r => $"{r.Name} {r.MsPerQuestion:F2} ms"))}"));
        return summaries;
    }

    /// <summary>The closing table (test half), the issue's targets checked, then the tuning half's average for comparison.</summary>
    public static void PrintSummary(IReadOnlyList<SetSummary> summaries, string loadAtStart)
    {
        var test = summaries.Where(s => s.Half == Half.Test).ToList();
        if (test.Count == 0) return;
        Console.WriteLine();
        Console.WriteLine($"Summary, test half (load average {loadAtStart} at the start, {Load()} at the end); Recall@5 / Recall@10 / nDCG@10:");
        Console.WriteLine();
        Console.WriteLine("| set | questions (test) | Lucene BM25 (stronger analyzer) | ServerlessMemory lexical | R@5 | R@10 | R@5 better / worse (sign test z) |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        foreach (var s in test)
            Console.WriteLine(string.Create(Invariant,
                $"| {s.Set} | {s.Questions} | {s.Lucene} ({Short(s.Baseline)}) | {s.Ours} | {s.GainR5:+0.0%;-0.0%} | {s.GainR10:+0.0%;-0.0%} | {s.Better} / {s.Worse} ({s.Z:+0.0;-0.0}) |"));
        var average = test.Average(s => s.GainR5);
        var tuning = summaries.Where(s => s.Half == Half.Tuning).ToList();
        Console.WriteLine();
        Console.WriteLine(string.Create(Invariant,
            $"Average relative Recall@5 gain over {test.Count} sets, test half: {average:+0.0%;-0.0%} (target ≥ +5%); tuning half: {(tuning.Count == 0 ? 0 : tuning.Average(s => s.GainR5)):+0.0%;-0.0%}."));
        var below = test.Where(s => s.Ours.R5 < s.Lucene.R5 || s.Ours.R10 < s.Lucene.R10).Select(s => s.Set).ToList();
        Console.WriteLine(below.Count == 0
            ? "At or above Lucene's BM25 in Recall@5 and Recall@10 on every set (test half)."
            : $"Below Lucene's BM25 in Recall@5 or Recall@10 (test half) on: {string.Join(", ", below)}.");
    }

    /// <summary>
    /// `--losses N`: the tuning half's N questions where ours trails the stronger Lucene analyzer most at
    /// Recall@5, with the evidence and each one's top 3, to see why. Tuning half only: the test half stays unseen.
    /// </summary>
    public static void PrintLosses(LabelledSet set, IReadOnlyList<SystemRun> runs, int count)
    {
        var ours = runs.First(r => r.Role == Role.Ours);
        var lucene = runs.Where(r => r.Role == Role.Baseline).MaxBy(b => b.Mean(set, Half.Tuning).R5)!;
        var content = set.Memories.ToDictionary(m => m.Key, m => m.Value.ToDictionary(x => x.Key, x => x.Content, StringComparer.Ordinal), StringComparer.Ordinal);
        var all = set.Questions.Select((q, i) => (q, i)).Where(x => x.q.Half == Half.Tuning && lucene.Scores[x.i].R5 > ours.Scores[x.i].R5).ToList();
        var losses = all.OrderByDescending(x => lucene.Scores[x.i].R5 - ours.Scores[x.i].R5).ThenBy(x => x.q.Order).Take(count).ToList();
        Console.WriteLine($"  losses against {lucene.Name}, tuning half ({losses.Count} of the {all.Count} questions where ours is lower at Recall@5):");
        foreach (var (q, i) in losses)
        {
            var texts = content[q.User];
            string Line(string key) => $"{(q.Evidence.Contains(key) ? "*" : " ")} {Clip(texts[key])}";
            Console.WriteLine($"    [{q.Category}] {Clip(q.Text)}");
            foreach (var e in q.Evidence) Console.WriteLine($"      evidence: {Clip(texts[e])}");
            Console.WriteLine("      Lucene:");
            foreach (var key in lucene.Rankings[i].Take(3)) Console.WriteLine($"        {Line(key)}");
            Console.WriteLine("      ours:");
            foreach (var key in ours.Rankings[i].Take(3)) Console.WriteLine($"        {Line(key)}");
        }
    }

    private static string Clip(string text) => text.Length <= 140 ? text : text[..140] + "…";

    private static string Short(string baseline) => baseline.Replace("Lucene BM25, ", "", StringComparison.Ordinal);

    public static string Load() => File.ReadAllText("/proc/loadavg").Split(' ')[0];
}
