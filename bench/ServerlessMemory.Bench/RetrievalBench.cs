// Retrieval quality on conversations and texts labelled by others, against Lucene.Net's BM25 over the same
// memories in the same run (Retrieval/: one loader per set, the baseline, the metrics). No data is shipped:
//   dotnet run -c Release --project bench/ServerlessMemory.Bench -- retrieval --data /work/data
//   ... -- retrieval [--locomo <locomo10.json | folder>] [--cmrc <cmrc2018_dev.json>] [--friendsqa <folder | file>]
//          [--memdaily <messages_and_QAs folder>] [--max-questions N] [--losses N] [--segmenters]
//          [--save <file>] [--against <file saved by an earlier run>] [--cosmos]
//          [--embeddings minilm [--embeddings-cache <folder>, default ~/.cache/serverlessmemory-bench]]
// --cosmos also stores every set in CosmosMemoryStore on the local Cosmos DB server the tests use (.ci/cosmos,
// `npm ci --prefix .ci/cosmos`) and searches it there: the same ranking should find the same (issue 18).
// bench/README.md says where each set comes from and how to fetch it.
using System.Diagnostics;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using ServerlessMemory.Core;
using ServerlessMemory.Sqlite;
using ServerlessMemory.Tests.Cosmos;

internal static class RetrievalBench
{
    private static readonly (string Option, Func<string, string?> Find, Func<string, LabelledSet> Load)[] Known =
    [
        ("--locomo", LoCoMoSet.Find, LoCoMoSet.Load),
        ("--friendsqa", FriendsQaSet.Find, FriendsQaSet.Load),
        ("--cmrc", CmrcSet.Find, CmrcSet.Load),
        ("--memdaily", MemDailySet.Find, MemDailySet.Load),
    ];

    public static async Task RunAsync(string directory, string[] args)
    {
        var data = Arg(args, "--data");
        var paths = Known.Select(k => (k.Option, Path: Arg(args, k.Option) ?? (data is null ? null : k.Find(data)), k.Load)).Where(k => k.Path is not null).ToList();
        if (paths.Count == 0)
        {
            Console.WriteLine("retrieval: give --data <folder> or any of --locomo, --friendsqa, --cmrc, --memdaily <path> (see bench/README.md)");
            return;
        }
        int? maxQuestions = Arg(args, "--max-questions") is { } max ? int.Parse(max, System.Globalization.CultureInfo.InvariantCulture) : null;
        var withVectors = Arg(args, "--embeddings") is "minilm";
        using var minilm = withVectors ? new MiniLmEmbeddings() : null;
        var embeddings = withVectors ? new EmbeddingCache(Arg(args, "--embeddings-cache") ?? EmbeddingCache.DefaultFolder) : null;
        var loadAtStart = RetrievalReport.Load();
        var overridden = Environment.GetEnvironmentVariables().Keys.Cast<string>().Where(k => k.StartsWith("Memory__Search__", StringComparison.OrdinalIgnoreCase)).Order(StringComparer.Ordinal).ToList();
        if (overridden.Count > 0)
            Console.WriteLine($"search options from the environment: {string.Join(", ", overridden.Select(k => $"{k}={Environment.GetEnvironmentVariable(k)}"))}");
        var summaries = new List<SetSummary>();
        var ours = new List<(LabelledSet, SystemRun)>();

        foreach (var (option, path, load) in paths)
        {
            var set = load(path!).AsStored().Sample(maxQuestions);
            Console.WriteLine();
            Console.WriteLine($"retrieval {set.Name} ({option} {path}): {set.MemoryCount:N0} memories of {set.Memories.Count} users, {set.Questions.Count:N0} questions " +
                $"({set.Questions.Count(q => q.Half == Half.Test):N0} test, {set.Questions.Count(q => q.Half == Half.Tuning):N0} tuning), load {RetrievalReport.Load()}");
            var runs = new List<SystemRun>();

            var clock = Stopwatch.StartNew();
            var lucene = LuceneBm25.For(set);
            Console.WriteLine($"  Lucene indexes built in {clock.Elapsed.TotalSeconds:F1} s");
            foreach (var bm25 in lucene) runs.Add(SystemRun.Of(bm25.Name, Role.Baseline, set, bm25.Rank));

            var vectors = new Dictionary<string, float[]>(StringComparer.Ordinal);
            if (minilm is not null && embeddings is not null && set.Language == Language.English)
            {
                clock.Restart();
                var texts = set.Memories.SelectMany(m => m.Value.Select(x => x.Content)).Concat(set.Questions.Select(q => q.Text)).ToList();
                vectors = embeddings.Vectors(texts, minilm, out var computed);
                embeddings.Save();
                Console.WriteLine($"  {vectors.Count:N0} texts with all-MiniLM-L6-v2 (384-d, ONNX, CPU): {computed:N0} embedded, the rest read from {embeddings.Folder}, in {clock.Elapsed.TotalSeconds:F0} s");
            }

            var store = new SqliteMemoryStore(Path.Combine(directory, $"retrieval-{set.Name.Split(' ')[0]}.db"));
            clock.Restart();
            var keys = await LoadAsync(store, set, vectors);
            Console.WriteLine($"  stored in the product's SQLite store in {clock.Elapsed.TotalSeconds:F1} s");
            runs.Add(SystemRun.Of("ServerlessMemory lexical", Role.Ours, set, Product(store, null, keys)));
            if (args.Contains("--cosmos")) await CompareCosmosAsync(set, runs[^1]);

            if (vectors.Count > 0)
            {
                var cosine = new ExhaustiveCosine(set, vectors);
                var strongest = lucene[0];
                runs.Add(SystemRun.Of("cosine (exhaustive)", Role.Other, set, cosine.Rank));
                runs.Add(SystemRun.Of("Lucene BM25 + cosine, RRF k 60", Role.Other, set, q => Rrf(strongest.Rank(q), cosine.Rank(q), 60)));
                runs.Add(SystemRun.Of("ServerlessMemory hybrid", Role.Other, set, Product(store, new CachedEmbeddings(vectors), keys)));
                var rrf = runs[^2].Mean(set, Half.Test);
                var hybrid = runs[^1].Mean(set, Half.Test);
                Console.WriteLine($"  hybrid against Lucene BM25 + cosine RRF, test half: Recall@5 {hybrid.R5:F3} against {rrf.R5:F3} ({(rrf.R5 == 0 ? 0 : hybrid.R5 / rrf.R5):F3}x; target ≥ 1.05x)");
            }

            summaries.AddRange(RetrievalReport.Print(set, runs));
            ours.Add((set, runs.First(r => r.Role == Role.Ours)));
            if (Arg(args, "--losses") is { } losses) RetrievalReport.PrintLosses(set, runs, int.Parse(losses, System.Globalization.CultureInfo.InvariantCulture));
            if (args.Contains("--segmenters") && set.Language == Language.Chinese) CompareSegmenters(set);
            foreach (var bm25 in lucene) bm25.Dispose();
        }
        RetrievalReport.PrintSummary(summaries, loadAtStart);
        if (Arg(args, "--against") is { } against) RunComparison.PrintAgainst(against, ours);
        if (Arg(args, "--save") is { } save) RunComparison.Save(save, ours);
    }

    private static string? Arg(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    /// <summary>Each memory stored as the API stores one (a fact, importance 0.5, created now), one user per history; returns user/id → key.</summary>
    private static async Task<Dictionary<string, string>> LoadAsync(IMemoryStore store, LabelledSet set, Dictionary<string, float[]> vectors)
    {
        var keys = new Dictionary<string, string>(StringComparer.Ordinal);
        var now = DateTimeOffset.UtcNow;
        var decay = new DecayModel(new DecayOptions());
        foreach (var (user, memories) in set.Memories)
        {
            var items = new List<ArchiveItem>();
            foreach (var (key, content) in memories)
            {
                var item = new ArchiveItem
                {
                    Id = LexicalTerms.ContentHash(content), Content = content, CreatedAt = now, EnteredAt = now, LastAccessedAt = now,
                    Embedding = vectors.TryGetValue(content, out var v) ? v : null,
                };
                // AsStored() left one memory per content, so every key is its own memory here.
                if (keys.TryAdd(user + "/" + item.Id, key)) items.Add(item with { ForgetAt = decay.ForgetAt(item) });
            }
            await store.CommitAsync(user, new MemoryChangeSet { ArchiveAdds = items });
        }
        return keys;
    }

    /// <summary>
    /// The product's search options: its defaults, with whatever the environment sets in <c>Memory:Search</c>
    /// as the hosts bind it (<c>Memory__Search__Candidates=200</c>), so a setting can be tried without a build.
    /// </summary>
    private static readonly SearchOptions Search = SearchFromEnvironment();

    private static SearchOptions SearchFromEnvironment()
    {
        var options = new SearchOptions();
        new Microsoft.Extensions.Configuration.ConfigurationBuilder().AddEnvironmentVariables().Build().GetSection("Memory:Search").Bind(options);
        return options;
    }

    /// <summary>The product's search with its options (<see cref="Search"/>) as the API runs it, top 10, without counting accesses (so runs do not change each other).</summary>
    private static Func<LabelledQuestion, IReadOnlyList<string>> Product(
        IMemoryStore store, IEmbeddingGenerator<string, Embedding<float>>? embedder, Dictionary<string, string> keys)
    {
        var engine = new MemoryEngine(store, Microsoft.Extensions.Options.Options.Create(new DecayOptions()),
            Microsoft.Extensions.Options.Options.Create(new MemoryLimits()), Microsoft.Extensions.Options.Options.Create(Search),
            TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger<MemoryEngine>.Instance, embedder);
        return q =>
        {
            var found = engine.Begin(q.User).SearchArchiveAsync(q.Text, 10).GetAwaiter().GetResult();
            return [.. found.Select(f => keys[q.User + "/" + f.Item.Id])];
        };
    }

    /// <summary>
    /// `--cosmos`: the same memories in <c>CosmosMemoryStore</c> on the local server, the same questions through
    /// the same engine; prints each half's figures beside SQLite's and the questions whose top 10 differ.
    /// </summary>
    private static async Task CompareCosmosAsync(LabelledSet set, SystemRun sqlite)
    {
        if (LocalCosmosServer.Unavailable is { } reason)
        {
            Console.WriteLine($"  Cosmos DB: {reason}");
            return;
        }
        var server = new LocalCosmosServer();
        await server.InitializeAsync();
        try
        {
            var clock = Stopwatch.StartNew();
            var keys = await LoadAsync(server.Store, set, []);
            Console.WriteLine($"  stored in CosmosMemoryStore on the local Cosmos DB server in {clock.Elapsed.TotalSeconds:F1} s");
            clock.Restart();
            var cosmos = SystemRun.Of("ServerlessMemory lexical, Cosmos DB", Role.Other, set, Product(server.Store, null, keys));
            var differ = set.Questions.Where((q, i) => !cosmos.Scores[i].Equals(sqlite.Scores[i])).Count();
            foreach (var half in new[] { Half.Test, Half.Tuning })
            {
                var (a, b) = (sqlite.Mean(set, half), cosmos.Mean(set, half));
                Console.WriteLine($"  {(half == Half.Test ? "test" : "tuning")} half: SQLite {a}, Cosmos DB {b}: Recall@5 {100 * (b.R5 - a.R5):+0.0;-0.0;0.0} points, Recall@10 {100 * (b.R10 - a.R10):+0.0;-0.0;0.0}");
            }
            Console.WriteLine($"  Cosmos DB searched in {clock.Elapsed.TotalSeconds:F1} s; {differ:N0} of {set.Questions.Count:N0} questions scored differently from SQLite");
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    private static IReadOnlyList<string> Rrf(IReadOnlyList<string> a, IReadOnlyList<string> b, int k)
    {
        var score = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var list in new[] { a, b })
            for (var i = 0; i < list.Count; i++) score[list[i]] = score.GetValueOrDefault(list[i]) + 1.0 / (k + i + 1);
        return [.. score.OrderByDescending(s => s.Value).Take(10).Select(s => s.Key)];
    }

    /// <summary>
    /// `--segmenters`: the textbook BM25 over CJK bigrams against the same BM25 over Chinese word segmenters'
    /// terms (issue 10's question), all questions, with a sign test over the questions each gains and loses at @5.
    /// </summary>
    private static void CompareSegmenters(LabelledSet set)
    {
        var bigrams = new TextbookBm25(set, chinese: true);
        var bigramHits = set.Questions.Select(q => q.Evidence.All(bigrams.Rank(q).Take(5).Contains)).ToList();
        var baseline = SystemRun.Of("textbook BM25, bigrams", Role.Other, set, bigrams.Rank);
        Console.WriteLine($"  segmenters (textbook BM25, all {set.Questions.Count:N0} questions; Recall@5 / Recall@10 / nDCG@10): bigrams {Score.Mean(baseline.Scores)}");
        foreach (var (name, tokens) in ChineseTokenisers.All())
        {
            var words = new TextbookBm25(set, tokens);
            var hits = set.Questions.Select(q => q.Evidence.All(words.Rank(q).Take(5).Contains)).ToList();
            var run = SystemRun.Of(name, Role.Other, set, words.Rank);
            var gained = hits.Where((h, i) => h && !bigramHits[i]).Count();
            var lost = hits.Where((h, i) => !h && bigramHits[i]).Count();
            var z = gained + lost == 0 ? 0 : (gained - lost) / Math.Sqrt(gained + lost);
            Console.WriteLine($"    {name,-36} {Score.Mean(run.Scores)}  against bigrams at @5: {gained} gained, {lost} lost, sign test z {z:+0.0;-0.0}");
        }
    }
}
