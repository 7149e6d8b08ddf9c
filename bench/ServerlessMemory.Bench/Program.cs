// Archive search and decay sweep on the embedded store, through the engine as the API calls it.
// Usage: dotnet run -c Release --project bench/ServerlessMemory.Bench [-- search|chat|agent|stream|sweep|all] [--quick]
//        ... -- load [--seconds 10] [--concurrency 8] [--embeddings] [--own-client]   (LoadBench.cs)
//        ... -- growth [--sizes 1000,10000,100000] [--rounds 5]   (GrowthBench.cs)
//        ... -- memory [--users 50] [--memories 10000]   (MemoryBench.cs)
//        ... -- retrieval --data <folder> [--max-questions N] [--embeddings minilm]   (RetrievalBench.cs)
using System.Diagnostics;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using ServerlessMemory.Core;
using ServerlessMemory.Sqlite;

var what = args.FirstOrDefault(a => !a.StartsWith("--", StringComparison.Ordinal)) ?? "all";
if (what is "load-client")
{
    await LoadBench.ClientAsync(args);
    return;
}
if (what is "tune")
{
    TuneBench.Run(args);
    return;
}
var quick = args.Contains("--quick");
var directory = Directory.CreateTempSubdirectory("sm-bench-").FullName;
Console.WriteLine($"ServerlessMemory bench: {Environment.ProcessorCount} cores, {RuntimeInformationText()}");
try
{
    if (what is "search" or "all")
    {
        foreach (var count in quick ? new[] { 1_000 } : [1_000, 10_000])
        {
            await SearchBench(Path.Combine(directory, $"search-{count}.db"), count, vectors: false);
            await SearchBench(Path.Combine(directory, $"search-{count}-v.db"), count, vectors: true);
        }
    }
    if (what is "chat" or "all")
        await ChatBench.RunAsync(directory, quick);
    if (what is "agent" or "all")
        await AgentBench.RunAsync(directory, quick);
    if (what is "load")
        await LoadBench.RunAsync(directory, args);
    if (what is "growth")
        await GrowthBench.RunAsync(directory, args);
    if (what is "memory")
        await MemoryBench.RunAsync(directory, args);
    if (what is "retrieval")
        await RetrievalBench.RunAsync(directory, args);
    if (what is "stream" or "all")
        await StreamingBench.RunAsync(directory, quick);
    if (what is "sweep" or "all")
        await SweepBench(Path.Combine(directory, "sweep.db"), quick ? 100_000 : 1_000_000, due: 1_000);
}
finally
{
    Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    Directory.Delete(directory, recursive: true);
}

static async Task SearchBench(string path, int count, bool vectors)
{
    var store = new SqliteMemoryStore(path);
    var embedder = vectors ? new RandomEmbeddings(1536) : null;
    var engine = Engine(store, embedder);
    var random = new Random(42);
    const string user = "bench-user";

    var load = Stopwatch.StartNew();
    var now = DateTimeOffset.UtcNow;
    for (var start = 0; start < count; start += 1_000)
    {
        var items = new List<ArchiveItem>();
        for (var i = start; i < Math.Min(count, start + 1_000); i++)
        {
            var content = Sentence(random, i);
            var item = new ArchiveItem
            {
                Id = LexicalTerms.ContentHash(content), Content = content, Type = (MemoryType)(i % 5), Importance = random.NextDouble(),
                CreatedAt = now.AddMinutes(-i), EnteredAt = now.AddMinutes(-i), LastAccessedAt = now.AddMinutes(-i),
                Embedding = embedder is null ? null : embedder.Vector(content),
            };
            items.Add(item with { ForgetAt = engine.Decay.ForgetAt(item) });
        }
        await store.CommitAsync(user, new MemoryChangeSet { ArchiveAdds = items });
    }
    load.Stop();

    var queries = Enumerable.Range(0, 50).Select(i => Sentence(random, random.Next(count))[..12]).ToArray();
    // Warm-up: the vector index, and two seconds of searches so that tiered compilation has optimised
    // the search path (a service that has run a while); ten searches left much of it unoptimised.
    var warm = Stopwatch.StartNew();
    for (var n = 0; n < 10 || warm.Elapsed < TimeSpan.FromSeconds(2); n++) await engine.SearchArchiveAsync(user, queries[n % queries.Length], 5);
    var times = new List<double>();
    var hits = 0;
    var cpu = Process.GetCurrentProcess().TotalProcessorTime;
    for (var round = 0; round < 4; round++)
        foreach (var q in queries)
        {
            var clock = Stopwatch.StartNew();
            hits += (await engine.SearchArchiveAsync(user, q, 5)).Count;
            times.Add(clock.Elapsed.TotalMilliseconds);
        }
    var cpuPerSearch = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds / times.Count;
    await engine.Accesses!.FlushAsync();
    var storeTimes = new List<double>();
    foreach (var q in queries)
    {
        var clock = Stopwatch.StartNew();
        await store.FindArchiveCandidatesAsync(user, LexicalTerms.ForQuery(q), embedder is null ? null : embedder.Vector(q), 50);
        storeTimes.Add(clock.Elapsed.TotalMilliseconds);
    }
    Console.WriteLine($"  store candidates only p50 {Percentile(storeTimes, 50):F2} ms; terms per query {queries.Average(q => LexicalTerms.ForQuery(q).Count):F1}");
    Console.WriteLine($"search {count,6:N0} memories, {(vectors ? "lexical + 1536-d vectors" : "lexical"),-25} " +
                      $"p50 {Percentile(times, 50),6:F2} ms  p95 {Percentile(times, 95),6:F2} ms  max {times.Max(),6:F2} ms  " +
                      $"CPU {cpuPerSearch:F2} ms ({times.Count} searches, {hits / (double)times.Count:F1} hits each; load {load.Elapsed.TotalSeconds:F1} s; loadavg {File.ReadAllText("/proc/loadavg").Split(' ')[0]})");
}

static async Task SweepBench(string path, int stored, int due)
{
    var store = new SqliteMemoryStore(path);
    var now = DateTimeOffset.UtcNow;
    var random = new Random(7);
    var load = Stopwatch.StartNew();
    var dueAt = new HashSet<int>(Enumerable.Range(0, due).Select(_ => random.Next(stored)));
    while (dueAt.Count < due) dueAt.Add(random.Next(stored));
    for (var start = 0; start < stored; start += 10_000)
    {
        var byUser = Enumerable.Range(start, Math.Min(10_000, stored - start)).GroupBy(i => $"user-{i % 1_000}");
        foreach (var group in byUser)
        {
            await store.CommitAsync(group.Key, new MemoryChangeSet
            {
                ArchiveAdds = [.. group.Select(i => new ArchiveItem
                {
                    Id = $"m{i}", Content = $"memory {i} 记忆", CreatedAt = now.AddDays(-1), EnteredAt = now.AddDays(-1), LastAccessedAt = now.AddDays(-1),
                    ForgetAt = dueAt.Contains(i) ? now.AddMinutes(-5) : now.AddDays(1 + i % 300),
                })],
            });
        }
    }
    load.Stop();
    var clock = Stopwatch.StartNew();
    var result = await store.SweepAsync(now, TimeSpan.FromMinutes(5));
    clock.Stop();
    Console.WriteLine($"sweep  {due:N0} due among {stored:N0} stored: forgot {result.Forgotten:N0} of {result.Users} users, " +
                      $"scanned {result.Scanned:N0}, in {clock.Elapsed.TotalMilliseconds:F0} ms (load {load.Elapsed.TotalSeconds:F0} s)");
    var again = Stopwatch.StartNew();
    var rerun = await store.SweepAsync(now, TimeSpan.FromMinutes(5));
    Console.WriteLine($"sweep  rerun with nothing due: scanned {rerun.Scanned}, in {again.Elapsed.TotalMilliseconds:F1} ms");
}

// The product's defaults, accesses coalesced (Memory:Accesses:FlushInterval 1 s) included.
static MemoryEngine Engine(IMemoryStore store, IEmbeddingGenerator<string, Embedding<float>>? embedder) =>
    new(store, Options.Create(new DecayOptions()), Options.Create(new MemoryLimits()), Options.Create(new SearchOptions()),
        TimeProvider.System, NullLogger<MemoryEngine>.Instance, embedder, Options.Create(new AccessOptions()));

static string Sentence(Random random, int seed)
{
    string[] zh = ["用户", "项目", "客户", "流失", "预测", "模型", "数据", "周末", "计划", "咖啡", "偏好", "简洁", "回答", "学习", "工作", "会议", "旅行", "家人", "朋友", "音乐"];
    string[] en = ["python", "xgboost", "churn", "model", "weekend", "hiking", "coffee", "concise", "answers", "project", "meeting", "travel", "family", "music", "report", "deadline", "budget", "team", "design", "review"];
    var r = new Random(seed);
    var words = Enumerable.Range(0, 8).Select(i => i % 2 == 0 ? zh[r.Next(zh.Length)] : en[r.Next(en.Length)] + " ");
    return $"{string.Concat(words)}#{seed}";
}

static double Percentile(List<double> values, double p)
{
    var sorted = values.Order().ToList();
    return sorted[(int)Math.Ceiling(p / 100 * sorted.Count) - 1];
}

static string RuntimeInformationText() => System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription;

/// <summary>Deterministic pseudo-embeddings: the bench measures the store and ranking, not a model.</summary>
internal sealed class RandomEmbeddings(int dimensions) : IEmbeddingGenerator<string, Embedding<float>>
{
    public float[] Vector(string text)
    {
        var random = new Random(StringComparer.Ordinal.GetHashCode(text));
        var v = new float[dimensions];
        for (var i = 0; i < v.Length; i++) v[i] = (float)(random.NextDouble() - 0.5);
        return v;
    }

    public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default) =>
        Task.FromResult(new GeneratedEmbeddings<Embedding<float>>(values.Select(v => new Embedding<float>(Vector(v)))));

    public object? GetService(Type serviceType, object? serviceKey = null) => null;

    public void Dispose() { }
}
