// Recall and latency as one user's archive grows (1k, 10k, 100k memories made from templates,
// TemplateArchive.cs): 40 questions each naming a (person, city, topic) triple, whose relevant
// memories are every memory holding that triple. Recall@5 is the share of the top 5 (of the
// relevant, when fewer) that is relevant; an exhaustive BM25 over every memory (tokenised here, by a
// scan of the whole archive: no index) runs beside it. The product's searches go over loopback HTTP
// to the self-host's composition, one at a time, after a warm-up that builds the user's index.
//   dotnet run -c Release --project bench/ServerlessMemory.Bench -- growth [--sizes 1000,10000,100000] [--rounds 5]
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ServerlessMemory.Api;
using ServerlessMemory.Core;
using ServerlessMemory.Sqlite;

internal static class GrowthBench
{
    public static async Task RunAsync(string directory, string[] args)
    {
        var sizes = Arg(args, "--sizes") is { } list ? list.Split(',').Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToArray() : [1_000, 10_000, 100_000];
        var rounds = int.TryParse(Arg(args, "--rounds"), out var r) ? r : 5;
        foreach (var size in sizes) await RunOnceAsync(Path.Combine(directory, $"growth-{size}.db"), size, rounds);
    }

    private static async Task RunOnceAsync(string path, int size, int rounds)
    {
        const string user = "growth-user";
        var memories = TemplateArchive.Memories(size);
        var questions = TemplateArchive.TripleQuestions(memories);
        var now = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        var store = new SqliteMemoryStore(path);
        // All facts of importance 0.5 stored at one time, as an import stores them: decay and importance
        // are equal, so the order is relevance's alone (what the exhaustive BM25 beside is compared on).
        for (var start = 0; start < size; start += 1_000)
            await store.CommitAsync(user, new MemoryChangeSet
            {
                ArchiveAdds = [.. memories.Skip(start).Take(1_000).Select(m => new ArchiveItem
                {
                    Id = LexicalTerms.ContentHash(m.Content), Content = m.Content, CreatedAt = now, EnteredAt = now, LastAccessedAt = now, Importance = 0.5,
                })],
            });
        var loaded = clock.Elapsed;
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();

        // The baseline: textbook BM25 (k1 1.2, b 0.75) over every memory, scanned, with the same terms.
        clock.Restart();
        var exhaustive = new ScannedBm25(memories.Select(m => m.Content).ToList());
        var baselineRecall = questions.Average(q => Recall(exhaustive.Top(LexicalTerms.ForQuery(q.Question), 5), q.Relevant));
        var baselineMs = clock.Elapsed.TotalMilliseconds / questions.Count;

        var builder = WebApplication.CreateBuilder();
        builder.Logging.ClearProviders();
        builder.Configuration["Memory:SqlitePath"] = path;
        builder.Configuration["Decay:Schedule"] = "0 0 0 1 1 *";
        builder.AddServerlessMemory();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var app = builder.Build();
        app.MapMemoryApi();
        await app.StartAsync();
        using var http = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };
        async Task<List<string>> SearchAsync(string question)
        {
            var body = JsonNode.Parse(await http.GetStringAsync($"/api/users/{user}/memory/archive?query={Uri.EscapeDataString(question)}&top=5"))!;
            return [.. body["items"]!.AsArray().Select(i => (string)i!["content"]!)];
        }

        await http.GetStringAsync("/api/users/someone-else/memory/archive?query=warm&top=5"); // start-up and JIT, apart
        clock.Restart();
        await SearchAsync(questions[0].Question); // the user's first search builds their index
        var first = clock.Elapsed;
        var warm = Stopwatch.StartNew();
        for (var n = 0; warm.Elapsed < TimeSpan.FromSeconds(2); n++) await SearchAsync(questions[n % questions.Count].Question);

        var times = new List<double>();
        var recall = 0.0;
        for (var round = 0; round < rounds; round++)
            foreach (var (question, relevant) in questions)
            {
                var start = Stopwatch.GetTimestamp();
                var found = await SearchAsync(question);
                times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                if (round == 0) recall += Recall(found, relevant);
            }
        recall /= questions.Count;
        times.Sort();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"growth {size,7:N0} memories: Recall@5 {recall:F3} (exhaustive BM25 {baselineRecall:F3}, {baselineMs:F1} ms a question by scanning); " +
            $"search over HTTP p50 {times[times.Count / 2]:F2} ms p95 {times[(int)Math.Ceiling(0.95 * times.Count) - 1]:F2} ms ({times.Count} searches, one at a time); " +
            $"first search {first.TotalMilliseconds:F0} ms (builds the user's index); stored in {loaded.TotalSeconds:F1} s  (load {File.ReadAllText("/proc/loadavg").Split(' ')[0]})"));
        await app.StopAsync();
    }

    /// <summary>The share of the top 5 that is relevant, out of the relevant when there are fewer than 5.</summary>
    private static double Recall(IReadOnlyList<string> found, HashSet<string> relevant) =>
        found.Take(5).Count(relevant.Contains) / (double)Math.Min(5, relevant.Count);

    /// <summary>Okapi BM25 over every text, computed by scanning them all for each query.</summary>
    private sealed class ScannedBm25(List<string> texts)
    {
        private readonly List<TermCounts> _docs = [.. texts.Select(LexicalTerms.Counts)];

        public List<string> Top(IReadOnlyList<string> terms, int k)
        {
            const double k1 = 1.2, b = 0.75;
            var average = _docs.Average(d => (double)d.Length);
            var scores = new double[_docs.Count];
            foreach (var term in terms)
            {
                var df = _docs.Count(d => d.Terms.ContainsKey(term));
                if (df == 0) continue;
                var idf = Math.Log(1 + (_docs.Count - df + 0.5) / (df + 0.5));
                for (var i = 0; i < _docs.Count; i++)
                    if (_docs[i].Terms.TryGetValue(term, out var tf))
                        scores[i] += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * _docs[i].Length / average));
            }
            return [.. Enumerable.Range(0, scores.Length).Where(i => scores[i] > 0).OrderByDescending(i => scores[i]).Take(k).Select(i => texts[i])];
        }
    }

    private static string? Arg(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
