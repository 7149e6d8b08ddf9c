namespace ServerlessMemory.Core;

/// <summary>
/// What a store answers for a query's terms: the one candidate contract every store meets
/// (<see cref="IMemoryStore.FindLexicalMatchesAsync"/>). Every memory of the user holding at least
/// one query term (<see cref="Ids"/>, with its <see cref="Lengths">length in terms</see>), each
/// term's postings into them with the term's count in each, and what BM25 weighs them by: the
/// user's memory count and their average length. The store scores nothing; the engine does
/// (<see cref="ArchiveRanking"/>), so relevance means the same on every store.
/// </summary>
/// <param name="Complete">False when the store read only part of the matches (the newest, up to its cap): see docs/cosmos.md.</param>
public sealed record LexicalMatches(
    long Documents, double AverageLength, IReadOnlyList<string> Ids, int[] Lengths, IReadOnlyList<TermPostings> Terms, bool Complete)
{
    public static LexicalMatches None { get; } = new(0, 0, [], [], [], true);

    /// <summary>
    /// These matches with more memories counted in (a unit of work's own adds, not yet stored): each
    /// one not already among them adds to the memory count and, where it holds query terms, to the matches.
    /// </summary>
    public LexicalMatches With(IReadOnlyList<string> terms, IEnumerable<(string Id, string Content)> memories)
    {
        ArgumentNullException.ThrowIfNull(terms);
        ArgumentNullException.ThrowIfNull(memories);
        var known = new HashSet<string>(Ids, StringComparer.Ordinal);
        var extra = memories.Where(m => known.Add(m.Id)).Select(m => (m.Id, Counts: LexicalTerms.Counts(m.Content))).ToList();
        if (extra.Count == 0) return this;
        var documents = Documents + extra.Count;
        var averageLength = (AverageLength * Documents + extra.Sum(e => (double)e.Counts.Length)) / documents;
        var ids = Ids.ToList();
        var lengths = Lengths.ToList();
        var postings = Terms.ToDictionary(t => t.Term, t => (Documents: t.Documents.ToList(), Frequencies: t.Frequencies.ToList(), t.DocumentFrequency), StringComparer.Ordinal);
        foreach (var (id, counts) in extra)
        {
            var held = terms.Where(counts.Terms.ContainsKey).ToList();
            if (held.Count == 0) continue;
            var at = ids.Count;
            ids.Add(id);
            lengths.Add(counts.Length);
            foreach (var term in held)
            {
                if (!postings.TryGetValue(term, out var list)) postings[term] = list = ([], [], 0);
                list.Documents.Add(at);
                list.Frequencies.Add(counts.Terms[term]);
                postings[term] = list with { DocumentFrequency = list.DocumentFrequency + 1 };
            }
        }
        return new(documents, averageLength, ids, [.. lengths],
            [.. postings.Select(p => new TermPostings(p.Key, p.Value.DocumentFrequency, [.. p.Value.Documents], [.. p.Value.Frequencies]))], Complete);
    }
}

/// <summary>One query term's postings: the memories holding it (places in <see cref="LexicalMatches.Ids"/>) and its count in each.</summary>
/// <param name="DocumentFrequency">How many of the user's memories hold the term (more than the postings when the matches are not complete).</param>
public sealed record TermPostings(string Term, long DocumentFrequency, int[] Documents, int[] Frequencies);

/// <summary>
/// Relevance, in one place (docs/decay.md, "Search"). Lexical: Okapi BM25 over every memory holding a
/// query term, divided by what a memory of average length holding each query term once would score,
/// so 1 is a full match whatever the query; vector: the cosine similarity above its floor. Relevance,
/// 0 to 1, is the lexical relevance plus the vector's share of what is left of 1, so a memory found
/// only by meaning, or weakly by words, never passes a strong lexical match by more than the vector
/// weight. The decay-aware score then orders what is relevant.
/// </summary>
public static class ArchiveRanking
{
    /// <summary>
    /// BM25 of each memory of <paramref name="matches"/> (by place in <see cref="LexicalMatches.Ids"/>),
    /// divided by the ideal: about 1 for a full match of average length, more for a short or repeated
    /// one, near 0 for one sharing only a common term. A query term no memory holds is left out of the
    /// ideal: it tells no memory from another, and a Chinese query is mostly such terms (its bigrams
    /// that straddle two words: 我在做什么项目 has 我在, 在做, 做什, 么项 besides 项目).
    /// </summary>
    /// <param name="weights">A query term's weight when not 1 (<see cref="LexicalTerms.WeightedQuery"/>).</param>
    public static double[] Bm25(LexicalMatches matches, SearchOptions options, IReadOnlyDictionary<string, double>? weights = null)
    {
        ArgumentNullException.ThrowIfNull(matches);
        ArgumentNullException.ThrowIfNull(options);
        var scores = new double[matches.Ids.Count];
        if (scores.Length == 0) return scores;
        var (k1, b) = (options.K1, options.B);
        var n = Math.Max(matches.Documents, matches.Ids.Count);
        var averageLength = Math.Max(1, matches.AverageLength);
        // The length part of BM25's denominator, once per memory rather than once per posting.
        var norms = new double[scores.Length];
        for (var i = 0; i < norms.Length; i++) norms[i] = k1 * (1 - b + b * matches.Lengths[i] / averageLength);
        var ideal = 0.0;
        foreach (var term in matches.Terms)
        {
            var df = Math.Clamp(term.DocumentFrequency, term.Documents.Length, n);
            if (df == 0) continue;
            var idf = Math.Log(1 + (n - df + 0.5) / (df + 0.5)) * (weights?.GetValueOrDefault(term.Term, 1) ?? 1);
            ideal += idf;
            for (var j = 0; j < term.Documents.Length; j++)
            {
                var d = term.Documents[j];
                double tf = term.Frequencies[j];
                scores[d] += idf * tf * (k1 + 1) / (tf + norms[d]);
            }
        }
        if (ideal <= 0) return scores;
        for (var i = 0; i < scores.Length; i++) scores[i] /= ideal;
        return scores;
    }

    /// <summary>
    /// The <paramref name="limit"/> best lexical matches by <see cref="Bm25"/>, best first, each with its
    /// score; only those at or above <see cref="SearchOptions.MinLexicalRelevance"/> of a full match.
    /// </summary>
    public static IReadOnlyList<(string Id, double Score)> Best(LexicalMatches matches, int limit, SearchOptions options, IReadOnlyDictionary<string, double>? weights = null)
    {
        var scores = Bm25(matches, options, weights);
        var floor = Math.Max(options.MinLexicalRelevance, double.Epsilon);
        var best = new PriorityQueue<int, (double Score, string Id)>(Math.Max(1, limit) + 1, Worse);
        for (var i = 0; i < scores.Length && limit > 0; i++)
        {
            if (scores[i] < floor) continue;
            var key = (scores[i], matches.Ids[i]);
            if (best.Count < limit) best.Enqueue(i, key);
            else if (best.TryPeek(out _, out var least) && Worse.Compare(key, least) > 0) best.EnqueueDequeue(i, key);
        }
        var result = new (string, double)[best.Count];
        for (var at = result.Length - 1; best.TryDequeue(out var i, out var key); at--) result[at] = (matches.Ids[i], key.Score);
        return result;
    }

    // Of two equal scores the greater id is the worse, so every store cuts alike, whatever order it lists its matches in.
    private static readonly Comparer<(double Score, string Id)> Worse = Comparer<(double Score, string Id)>.Create(
        (x, y) => x.Score != y.Score ? x.Score.CompareTo(y.Score) : string.CompareOrdinal(y.Id, x.Id));

    /// <summary>
    /// Lexical relevance, 0 to 1, of a BM25 score divided by its query's ideal (<see cref="Bm25"/>):
    /// 1 − 2^(−2x), so a full match of average length is 0.75, half of one 0.5, and a stronger one (a
    /// short memory, a repeated term) more, up to 0.95. The strength of the match is kept, and means
    /// the same for every query.
    /// </summary>
    public static double LexicalRelevance(double score) => score <= 0 ? 0 : 1 - Math.Pow(2, -2 * score);

    /// <summary>Vector relevance, 0 to 1: the cosine similarity's place between the floor and 1.</summary>
    public static double VectorRelevance(double similarity, SearchOptions options)
    {
        var floor = Math.Clamp(options.MinVectorSimilarity, -1, 0.99);
        return Math.Clamp((similarity - floor) / (1 - floor), 0, 1);
    }

    /// <summary>
    /// Relevance, 0 to 1, of each candidate that clears a floor (its <see cref="ArchiveCandidate.LexicalScore"/>
    /// or its similarity), in no particular order: lexical relevance <c>l</c> plus the vector weight's
    /// share of what is left, <c>l + w · v · (1 − l)</c>. When no candidate matched lexically, the
    /// vector relevance counts in full.
    /// </summary>
    public static IReadOnlyList<(ArchiveCandidate Candidate, double Relevance)> Relevant(IReadOnlyList<ArchiveCandidate> candidates, SearchOptions options)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        ArgumentNullException.ThrowIfNull(options);
        bool IsLexical(ArchiveCandidate c) => c.LexicalScore is { } x && x > 0 && x >= options.MinLexicalRelevance;
        bool IsVector(ArchiveCandidate c) => c.VectorSimilarity is { } s && s >= options.MinVectorSimilarity && s > 0;
        var weight = candidates.Any(IsLexical) ? Math.Clamp(options.VectorWeight, 0, 1) : 1;
        var result = new List<(ArchiveCandidate, double)>(candidates.Count);
        foreach (var c in candidates)
        {
            var lexical = IsLexical(c);
            var vector = IsVector(c);
            if (!lexical && !vector) continue;
            var l = lexical ? LexicalRelevance(c.LexicalScore!.Value) : 0;
            var v = vector ? VectorRelevance(c.VectorSimilarity!.Value, options) : 0;
            var relevance = l + weight * v * (1 - l);
            if (relevance > 0) result.Add((c, relevance));
        }
        return result;
    }
}
