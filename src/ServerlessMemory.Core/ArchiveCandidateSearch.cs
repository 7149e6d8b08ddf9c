namespace ServerlessMemory.Core;

/// <summary>
/// How a search finds its candidates on any store: the store's lexical matches are scored here by
/// BM25 (<see cref="ArchiveRanking.Bm25"/>), the best <c>limit</c> of them are read together with the
/// <c>limit</c> nearest by vector, and each candidate carries its lexical score and similarity.
/// </summary>
public static class ArchiveCandidateSearch
{
    /// <summary>Candidates for the terms and vector as a search finds them (with the default <see cref="SearchOptions"/> unless given).</summary>
    public static async Task<IReadOnlyList<ArchiveCandidate>> FindArchiveCandidatesAsync(
        this IMemoryStore store, string userId, IReadOnlyList<string> terms, ReadOnlyMemory<float>? vector, int limit,
        CancellationToken cancellationToken = default) =>
        (await FindAsync(store, userId, terms, null, vector, limit, new SearchOptions(), [], cancellationToken)).Candidates;

    /// <summary>
    /// As <see cref="FindArchiveCandidatesAsync"/>, with memories not yet stored (a unit of work's own
    /// adds) counted in: scored with the stored ones, and returned as candidates in place of a stored
    /// item of the same id. Also returns the matches the scores came from.
    /// </summary>
    internal static async Task<(IReadOnlyList<ArchiveCandidate> Candidates, LexicalMatches Matches)> FindAsync(
        IMemoryStore store, string userId, IReadOnlyList<string> terms, IReadOnlyDictionary<string, double>? weights, ReadOnlyMemory<float>? vector,
        int limit, SearchOptions options, IReadOnlyCollection<ArchiveItem> pending, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(terms);
        if (limit <= 0 || (terms.Count == 0 && vector is null)) return ([], LexicalMatches.None);

        var matches = terms.Count > 0 ? await store.FindLexicalMatchesAsync(userId, terms, cancellationToken) : LexicalMatches.None;
        if (terms.Count > 0 && pending.Count > 0) matches = matches.With(terms, pending.Select(p => (p.Id, p.Content)));
        var best = terms.Count > 0 ? ArchiveRanking.Best(matches, limit, options, weights) : [];
        var scores = best.ToDictionary(b => b.Id, b => b.Score, StringComparer.Ordinal);
        var waiting = pending.ToDictionary(p => p.Id, StringComparer.Ordinal);

        var stored = await store.ReadArchiveCandidatesAsync(userId, [.. best.Select(b => b.Id).Where(id => !waiting.ContainsKey(id))], vector, limit, cancellationToken);
        var candidates = new List<ArchiveCandidate>(stored.Count + pending.Count);
        foreach (var c in stored)
            if (!waiting.ContainsKey(c.Item.Id))
                candidates.Add(c with { LexicalScore = scores.TryGetValue(c.Item.Id, out var x) ? x : null });
        foreach (var item in pending)
        {
            var similarity = Similarity(vector, item.Embedding);
            var lexical = scores.TryGetValue(item.Id, out var x) ? x : (double?)null;
            if (lexical is not null || similarity is not null) candidates.Add(new(item, similarity, lexical));
        }
        return (candidates, matches);
    }

    private static double? Similarity(ReadOnlyMemory<float>? query, ReadOnlyMemory<float>? item) =>
        query is { } q && item is { } v && q.Length == v.Length && q.Length > 0
            ? System.Numerics.Tensors.TensorPrimitives.CosineSimilarity(q.Span, v.Span)
            : null;
}
