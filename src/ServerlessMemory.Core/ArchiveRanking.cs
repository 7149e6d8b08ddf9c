namespace ServerlessMemory.Core;

/// <summary>
/// How many of a user's memories there are and how many hold each query term: what BM25 needs to
/// weigh a rare term above a common one. A store that cannot say cheaply gives none, and the
/// ranking then counts over the candidates it found.
/// </summary>
public sealed record TermStatistics(long Documents, IReadOnlyDictionary<string, long> DocumentFrequency);

/// <summary>What a store found for a search: candidates, and the term statistics if it has them.</summary>
public sealed record ArchiveCandidates(IReadOnlyList<ArchiveCandidate> Items, TermStatistics? Statistics);

/// <summary>
/// Ranks a search's candidates by relevance, in three steps (docs/decay.md, "Search"):
/// lexical relevance is Okapi BM25 over the candidates' terms with the store's document
/// frequencies; vector relevance is the cosine similarity; each list keeps only what clears its
/// floor, and the two are fused by weighted reciprocal rank. The fused relevance, 0 to 1, is what
/// the decay-aware score weighs; a memory below both floors is not relevant and is not returned.
/// </summary>
public static class ArchiveRanking
{
    /// <summary>Fused relevance, 0 to 1, of each candidate that clears a floor, in no particular order.</summary>
    public static IReadOnlyList<(ArchiveCandidate Candidate, double Relevance)> Relevant(
        IReadOnlyList<string> queryTerms, IReadOnlyList<ArchiveCandidate> candidates, TermStatistics? statistics, SearchOptions options)
    {
        ArgumentNullException.ThrowIfNull(queryTerms);
        ArgumentNullException.ThrowIfNull(candidates);
        ArgumentNullException.ThrowIfNull(options);
        if (candidates.Count == 0) return [];

        var lexical = Bm25(queryTerms, candidates, statistics, options);
        var lexicalRanks = Ranks(lexical, options.MinLexicalRelevance);
        var vectorRanks = Ranks([.. candidates.Select(c => c.VectorSimilarity ?? double.NegativeInfinity)], options.MinVectorSimilarity);

        // Each list scores (k + 1) / (k + rank): 1 for its first. The weights of the lists that found
        // anything share out 1, so the best of what was found is near 1 whichever list found it.
        var wv = lexicalRanks.Any(r => r is not null) ? Math.Clamp(options.VectorWeight, 0, 1) : 1;
        var wl = vectorRanks.Any(r => r is not null) ? 1 - wv : 1;
        if (!vectorRanks.Any(r => r is not null)) wv = 0;
        var k = Math.Max(0, options.RankConstant);
        var result = new List<(ArchiveCandidate, double)>();
        for (var i = 0; i < candidates.Count; i++)
        {
            var fused = (lexicalRanks[i] is { } rl ? wl * (k + 1) / (k + rl) : 0) + (vectorRanks[i] is { } rv ? wv * (k + 1) / (k + rv) : 0);
            if (fused > 0) result.Add((candidates[i], Math.Min(1, fused / (wl + wv))));
        }
        return result;
    }

    /// <summary>
    /// BM25 of each candidate, divided by what a memory of average length holding every query term
    /// once would score: about 1 for a full match, near 0 for one that shares only a common term.
    /// A query term no memory holds is left out of that ideal: it tells no memory from another, and
    /// a Chinese query is mostly such terms (its bigrams that straddle two words: 我在做什么项目 has
    /// 我在, 在做, 做什, 么项 besides 项目), which would otherwise push every match under the floor.
    /// </summary>
    public static double[] Bm25(IReadOnlyList<string> queryTerms, IReadOnlyList<ArchiveCandidate> candidates, TermStatistics? statistics, SearchOptions options)
    {
        ArgumentNullException.ThrowIfNull(queryTerms);
        ArgumentNullException.ThrowIfNull(candidates);
        ArgumentNullException.ThrowIfNull(options);
        var scores = new double[candidates.Count];
        if (queryTerms.Count == 0 || candidates.Count == 0) return scores;

        var docs = candidates.Select(c => LexicalTerms.Counts(c.Item.Content)).ToArray();
        var averageLength = Math.Max(1, docs.Average(d => (double)d.Length));
        var n = Math.Max(statistics?.Documents ?? 0, candidates.Count);
        var (k1, b) = (options.K1, options.B);
        var ideal = 0.0;
        foreach (var term in queryTerms)
        {
            var df = statistics?.DocumentFrequency.GetValueOrDefault(term) ?? docs.Count(d => d.Terms.ContainsKey(term));
            df = Math.Clamp(df, docs.Count(d => d.Terms.ContainsKey(term)), n);
            if (df == 0) continue;
            var idf = Math.Log(1 + (n - df + 0.5) / (df + 0.5));
            ideal += idf;
            for (var i = 0; i < docs.Length; i++)
            {
                if (!docs[i].Terms.TryGetValue(term, out var tf)) continue;
                scores[i] += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * docs[i].Length / averageLength));
            }
        }
        if (ideal <= 0) return scores;
        for (var i = 0; i < scores.Length; i++) scores[i] /= ideal;
        return scores;
    }

    /// <summary>1-based rank of each score at or above the floor, best first; null below it.</summary>
    private static int?[] Ranks(double[] scores, double floor)
    {
        var ranks = new int?[scores.Length];
        var order = Enumerable.Range(0, scores.Length).Where(i => scores[i] >= floor && scores[i] > 0).OrderByDescending(i => scores[i]).ToList();
        for (var r = 0; r < order.Count; r++) ranks[order[r]] = r + 1;
        return ranks;
    }
}
