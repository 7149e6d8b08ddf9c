using Microsoft.Azure.Cosmos;
using ServerlessMemory.Core;

namespace ServerlessMemory.Cosmos;

/// <summary>
/// The SQL text of every query the Cosmos DB store sends, in one place so that tests pin it. All are
/// parameterised; all but the sweep run in one user's partition (<c>QueryRequestOptions.PartitionKey</c>),
/// and repeat <c>c.userId = @userId</c> so that a query sent without the partition key still never
/// reads another user's documents.
/// </summary>
internal static class CosmosQueries
{
    /// <summary>
    /// An archive row without its embedding and terms, which no caller needs and which are most of the
    /// document's size. It selects every member <see cref="ArchiveDocument"/> requires (<c>userId</c> and
    /// <c>type</c> included), so that a row deserialises as the document type it is read into.
    /// </summary>
    public const string ArchiveFields =
        "c.id, c.userId, c.type, c.content, c.memoryType, c.importance, c.createdAt, c.enteredAt, c.lastAccessedAt, c.accessCount, c.metadata, c.forgetAt, c.supersededAt, c.supersededBy, c.history";

    public const string MessageFields = "c.id, c.userId, c.type, c.sessionId, c.turnId, c.role, c.content, c.createdAt";

    /// <summary>
    /// At most this many lexical matches are read for a search (the newest): their content is what
    /// BM25 reads. Below it the matches are every memory holding a query term, as on SQLite; past it
    /// older matches are not scored (docs/cosmos.md, "Search").
    /// </summary>
    public const int MaxLexicalMatches = 2_000;

    /// <summary>
    /// Newest first; pages by the SDK's continuation token (ties in <c>createdAt</c>, as a turn's
    /// memories have, are broken by the service, so a page boundary never skips or repeats one).
    /// Served by the composite index (userId, type, createdAt DESC) of <see cref="MemoryContainer"/>.
    /// </summary>
    public const string ListArchive =
        $"SELECT {ArchiveFields} FROM c WHERE c.userId = @userId AND c.type = 'archive' ORDER BY c.createdAt DESC";

    /// <summary>
    /// Lexical matches: the id and content of items whose <c>terms</c> hold any query term, newest
    /// first. This is how Chinese finds Chinese: <c>terms</c> carries CJK characters and bigrams made by
    /// <see cref="Core.LexicalTerms"/>, since Cosmos DB's full-text search has no Chinese tokenizer.
    /// <c>{0}</c> is one <c>ARRAY_CONTAINS(c.terms, @tN)</c> per term, joined by <c>OR</c>: each is an
    /// equality lookup in the range index on <c>/terms/[]</c>, where <c>ARRAY_CONTAINS(@terms, t)</c>
    /// over every term of every document in the partition could only be evaluated by scanning them.
    /// The engine scores them (BM25 over their terms); the store scores nothing.
    /// </summary>
    public const string ArchiveLexical =
        $"SELECT TOP @top c.id, c.content FROM c WHERE c.userId = @userId AND c.type = 'archive' AND ({{0}}) ORDER BY c.createdAt DESC";

    /// <summary>
    /// As <see cref="ArchiveLexical"/>, the items holding every query term (<c>{0}</c> joined by
    /// <c>AND</c>): read when the matches reach the cap, so that an old memory holding every word is
    /// scored however many newer ones hold some.
    /// </summary>
    public const string ArchiveLexicalAll = ArchiveLexical;

    /// <summary>How many of the user's memories hold a term: its document frequency, read when the matches reach the cap.</summary>
    public const string TermCount = "SELECT VALUE COUNT(1) FROM c WHERE c.userId = @userId AND c.type = 'archive' AND ARRAY_CONTAINS(c.terms, @term)";

    /// <summary>The user's memory count: BM25's N.</summary>
    public const string ArchiveCount = "SELECT VALUE COUNT(1) FROM c WHERE c.userId = @userId AND c.type = 'archive'";

    /// <summary>The average length of the user's memories in terms (of those written with <c>termCount</c>): what BM25 normalises by.</summary>
    public const string ArchiveAverageLength = "SELECT VALUE AVG(c.termCount) FROM c WHERE c.userId = @userId AND c.type = 'archive'";

    /// <summary>The items the engine chose among the lexical matches, read by id.</summary>
    public const string ArchiveByIds =
        $"SELECT {ArchiveFields} FROM c WHERE c.userId = @userId AND c.type = 'archive' AND ARRAY_CONTAINS(@ids, c.id)";

    /// <summary>As <see cref="ArchiveByIds"/>, each with its cosine similarity to the query vector (over these few items, by brute force).</summary>
    public const string ArchiveByIdsWithSimilarity =
        $"SELECT {ArchiveFields}, VectorDistance(c.embedding, @vector) AS similarity FROM c WHERE c.userId = @userId AND c.type = 'archive' AND ARRAY_CONTAINS(@ids, c.id)";

    /// <summary>
    /// Vector candidates through the container's vector index: nearest first by cosine similarity,
    /// which <c>VectorDistance</c> returns for the container's cosine policy (1 is the same direction).
    /// Documents without an embedding yield no <c>similarity</c> and are dropped by the store. A
    /// memory found by both searches takes its similarity from here, so no query computes distances
    /// over the lexical candidates by brute force.
    /// </summary>
    public const string ArchiveVector =
        $"SELECT TOP @top {ArchiveFields}, VectorDistance(c.embedding, @vector) AS similarity FROM c " +
        "WHERE c.userId = @userId AND c.type = 'archive' ORDER BY VectorDistance(c.embedding, @vector)";

    /// <summary>Served by the composite index (userId, type, createdAt DESC).</summary>
    public const string ListMessages =
        $"SELECT {MessageFields} FROM c WHERE c.userId = @userId AND c.type = 'message' ORDER BY c.createdAt DESC";

    /// <summary>Served by the composite index (userId, type, sessionId, createdAt DESC).</summary>
    public const string ListSessionMessages =
        $"SELECT {MessageFields} FROM c WHERE c.userId = @userId AND c.type = 'message' AND c.sessionId = @sessionId ORDER BY c.createdAt DESC";

    /// <summary>As <see cref="ArchiveLexical"/>, over messages.</summary>
    public const string SearchMessages =
        $"SELECT TOP @top {MessageFields} FROM c WHERE c.userId = @userId AND c.type = 'message' AND ({{0}}) ORDER BY c.createdAt DESC";

    /// <summary>
    /// The user listing's step, across partitions: the first user id after <c>@after</c> with the prefix.
    /// <c>TOP 1 ... ORDER BY c.userId</c> is answered from the range index on <c>/userId</c>: each physical
    /// partition seeks to <c>@after</c> and returns one document, so a step costs about the same
    /// whether the next user holds one document or a million (where <c>DISTINCT</c> or <c>GROUP BY</c>
    /// over <c>c.userId</c> would read every document of every user it passes). The store runs one step per user listed.
    /// </summary>
    public const string NextUser =
        "SELECT TOP 1 VALUE c.userId FROM c WHERE c.userId > @after AND STARTSWITH(c.userId, @prefix) ORDER BY c.userId";

    /// <summary>Every document id of one user, for erasing the partition.</summary>
    public const string UserDocumentIds = "SELECT VALUE c.id FROM c WHERE c.userId = @userId";

    /// <summary>
    /// The decay sweep, across partitions: only archive items due by <c>@now</c>, through the range
    /// index on <c>/forgetAt</c>, so its cost follows what is forgotten, not what is stored. The
    /// <c>_etag</c> lets the delete skip an item that was accessed (and so moved its forgetAt) meanwhile.
    /// </summary>
    public const string DueArchiveItems =
        "SELECT c.id, c.userId, c._etag FROM c WHERE c.type = 'archive' AND c.forgetAt <= @now";

    /// <summary>
    /// The vector backfill's read: archive items flagged <c>pendingVector</c> (stored without their
    /// vector) and not forgotten, through the range index on <c>/pendingVector</c> and <c>/forgetAt</c>.
    /// Across partitions, as the sweep; the <c>_etag</c> makes the write skip an item changed meanwhile.
    /// </summary>
    public const string ArchiveWithoutVector =
        "SELECT c.id, c.userId, c.content, c._etag FROM c WHERE c.type = 'archive' AND c.pendingVector = true " +
        "AND (NOT IS_DEFINED(c.forgetAt) OR IS_NULL(c.forgetAt) OR c.forgetAt > @now)";

    /// <summary>As <see cref="ArchiveWithoutVector"/>, in one user's partition.</summary>
    public const string UserArchiveWithoutVector =
        "SELECT c.id, c.userId, c.content, c._etag FROM c WHERE c.userId = @userId AND c.type = 'archive' AND c.pendingVector = true " +
        "AND (NOT IS_DEFINED(c.forgetAt) OR IS_NULL(c.forgetAt) OR c.forgetAt > @now)";

    /// <summary>The vectors of a page of archive items, for the export: by document id, in one partition.</summary>
    public const string ArchiveVectors =
        "SELECT c.id, c.embedding FROM c WHERE c.userId = @userId AND c.type = 'archive' AND ARRAY_CONTAINS(@ids, c.id) AND IS_DEFINED(c.embedding)";

    public static QueryDefinition ArchiveVectorsQuery(string userId, string[] documentIds) =>
        new QueryDefinition(ArchiveVectors).WithParameter("@userId", userId).WithParameter("@ids", documentIds);

    public static QueryDefinition ListArchiveQuery(string userId) =>
        new QueryDefinition(ListArchive).WithParameter("@userId", userId);

    public static QueryDefinition ArchiveLexicalQuery(string userId, IReadOnlyList<string> terms) =>
        WithTerms(ArchiveLexical, terms)
            .WithParameter("@top", MaxLexicalMatches)
            .WithParameter("@userId", userId);

    public static QueryDefinition ArchiveLexicalAllQuery(string userId, IReadOnlyList<string> terms) =>
        WithTerms(ArchiveLexicalAll, terms, " AND ")
            .WithParameter("@top", MaxLexicalMatches)
            .WithParameter("@userId", userId);

    public static QueryDefinition TermCountQuery(string userId, string term) =>
        new QueryDefinition(TermCount).WithParameter("@userId", userId).WithParameter("@term", term);

    public static QueryDefinition ArchiveCountQuery(string userId) =>
        new QueryDefinition(ArchiveCount).WithParameter("@userId", userId);

    public static QueryDefinition ArchiveAverageLengthQuery(string userId) =>
        new QueryDefinition(ArchiveAverageLength).WithParameter("@userId", userId);

    public static QueryDefinition ArchiveByIdsQuery(string userId, IReadOnlyList<string> documentIds, float[]? vector) =>
        vector is null
            ? new QueryDefinition(ArchiveByIds).WithParameter("@userId", userId).WithParameter("@ids", documentIds)
            : new QueryDefinition(ArchiveByIdsWithSimilarity).WithParameter("@userId", userId).WithParameter("@ids", documentIds).WithParameter("@vector", vector);

    public static QueryDefinition ArchiveVectorQuery(string userId, float[] vector, int limit) =>
        new QueryDefinition(ArchiveVector)
            .WithParameter("@top", limit)
            .WithParameter("@userId", userId)
            .WithParameter("@vector", vector);

    public static QueryDefinition ListMessagesQuery(string userId, string? sessionId) =>
        sessionId is null
            ? new QueryDefinition(ListMessages).WithParameter("@userId", userId)
            : new QueryDefinition(ListSessionMessages).WithParameter("@userId", userId).WithParameter("@sessionId", sessionId);

    public static QueryDefinition SearchMessagesQuery(string userId, IReadOnlyList<string> terms, int limit) =>
        WithTerms(SearchMessages, terms)
            .WithParameter("@top", limit)
            .WithParameter("@userId", userId);

    public static QueryDefinition UserDocumentIdsQuery(string userId) =>
        new QueryDefinition(UserDocumentIds).WithParameter("@userId", userId);

    public static QueryDefinition NextUserQuery(string prefix, string after) =>
        new QueryDefinition(NextUser).WithParameter("@after", after).WithParameter("@prefix", prefix);

    public static QueryDefinition DueArchiveItemsQuery(DateTimeOffset now) =>
        new QueryDefinition(DueArchiveItems).WithParameter("@now", CosmosTime.Format(now));

    public static QueryDefinition ArchiveWithoutVectorQuery(string? userId, DateTimeOffset now) =>
        userId is null
            ? new QueryDefinition(ArchiveWithoutVector).WithParameter("@now", CosmosTime.Format(now))
            : new QueryDefinition(UserArchiveWithoutVector).WithParameter("@userId", userId).WithParameter("@now", CosmosTime.Format(now));

    /// <summary>The query with one parameterised <c>ARRAY_CONTAINS</c> per filter term (<see cref="LexicalTerms.FilterTerms"/>) in place of <c>{0}</c>, joined by <paramref name="joiner"/>.</summary>
    private static QueryDefinition WithTerms(string template, IReadOnlyList<string> terms, string joiner = " OR ")
    {
        var filter = LexicalTerms.FilterTerms(terms);
        if (filter.Count == 0) throw new ArgumentException("A lexical query needs at least one term.", nameof(terms));
        var text = string.Format(System.Globalization.CultureInfo.InvariantCulture, template,
            string.Join(joiner, filter.Select((_, i) => $"ARRAY_CONTAINS(c.terms, @t{i})")));
        var query = new QueryDefinition(text);
        for (var i = 0; i < filter.Count; i++) query = query.WithParameter($"@t{i}", filter[i]);
        return query;
    }
}
