using Microsoft.Azure.Cosmos;

namespace ServerlessMemory.Cosmos;

/// <summary>
/// The SQL text of every query the Cosmos DB store sends, in one place so that tests pin it. All are
/// parameterised; all but the sweep run in one user's partition (<c>QueryRequestOptions.PartitionKey</c>),
/// and repeat <c>c.userId = @userId</c> so that a query sent without the partition key still never
/// reads another user's documents.
/// </summary>
internal static class CosmosQueries
{
    /// <summary>An archive row without its embedding and terms, which no caller needs and which are most of the document's size.</summary>
    public const string ArchiveFields =
        "c.id, c.content, c.memoryType, c.importance, c.createdAt, c.lastAccessedAt, c.accessCount, c.metadata, c.forgetAt";

    public const string MessageFields = "c.id, c.sessionId, c.turnId, c.role, c.content, c.createdAt";

    /// <summary>How many more lexical matches are read than asked for, so that items holding more of the terms win the cut.</summary>
    public const int LexicalOverfetch = 4;

    /// <summary>
    /// Newest first; pages by the SDK's continuation token (ties in <c>createdAt</c>, as a turn's
    /// memories have, are broken by the service, so a page boundary never skips or repeats one).
    /// </summary>
    public const string ListArchive =
        $"SELECT {ArchiveFields} FROM c WHERE c.userId = @userId AND c.type = 'archive' ORDER BY c.createdAt DESC";

    /// <summary>
    /// Lexical candidates: items whose <c>terms</c> hold any query term. This is how Chinese finds
    /// Chinese: <c>terms</c> carries CJK characters and bigrams made by <see cref="Core.LexicalTerms"/>,
    /// since Cosmos DB's full-text search has no Chinese tokenizer. The store ranks the rows by how
    /// many terms each holds and keeps the best.
    /// </summary>
    public const string ArchiveLexical =
        $"SELECT TOP @top {ArchiveFields} FROM c WHERE c.userId = @userId AND c.type = 'archive' " +
        "AND EXISTS(SELECT VALUE t FROM t IN c.terms WHERE ARRAY_CONTAINS(@terms, t)) ORDER BY c.createdAt DESC";

    /// <summary>
    /// <see cref="ArchiveLexical"/> when the search also has a query vector: each row carries its cosine
    /// similarity too (null without an embedding of the query's length), so that a memory found by its
    /// words alone is ranked on meaning as well, as in SQLite.
    /// </summary>
    public const string ArchiveLexicalScored =
        $"SELECT TOP @top {ArchiveFields}, (IS_ARRAY(c.embedding) AND ARRAY_LENGTH(c.embedding) = @dimensions " +
        "? VectorDistance(c.embedding, @vector, true, {'distanceFunction': 'cosine', 'dataType': 'float32'}) : null) AS similarity " +
        "FROM c WHERE c.userId = @userId AND c.type = 'archive' " +
        "AND EXISTS(SELECT VALUE t FROM t IN c.terms WHERE ARRAY_CONTAINS(@terms, t)) ORDER BY c.createdAt DESC";

    /// <summary>
    /// Vector candidates through the container's vector index: nearest first by cosine similarity,
    /// which <c>VectorDistance</c> returns for the container's cosine policy (1 is the same direction).
    /// Documents without an embedding yield no <c>similarity</c> and are dropped by the store.
    /// </summary>
    public const string ArchiveVector =
        $"SELECT TOP @top {ArchiveFields}, VectorDistance(c.embedding, @vector) AS similarity FROM c " +
        "WHERE c.userId = @userId AND c.type = 'archive' ORDER BY VectorDistance(c.embedding, @vector)";

    /// <summary>
    /// Vector candidates for a query vector whose length is not the container's dimensions (another
    /// embedding model): exact search over the user's embeddings of that length, as SQLite compares
    /// only vectors of equal length. The vector index cannot serve these.
    /// </summary>
    public const string ArchiveVectorExact =
        $"SELECT TOP @top {ArchiveFields}, VectorDistance(c.embedding, @vector, true, {{'distanceFunction': 'cosine', 'dataType': 'float32'}}) AS similarity FROM c " +
        "WHERE c.userId = @userId AND c.type = 'archive' AND ARRAY_LENGTH(c.embedding) = @dimensions " +
        "ORDER BY VectorDistance(c.embedding, @vector, true, {'distanceFunction': 'cosine', 'dataType': 'float32'})";

    public const string ListMessages =
        $"SELECT {MessageFields} FROM c WHERE c.userId = @userId AND c.type = 'message' ORDER BY c.createdAt DESC";

    public const string ListSessionMessages =
        $"SELECT {MessageFields} FROM c WHERE c.userId = @userId AND c.type = 'message' AND c.sessionId = @sessionId ORDER BY c.createdAt DESC";

    public const string SearchMessages =
        $"SELECT TOP @top {MessageFields} FROM c WHERE c.userId = @userId AND c.type = 'message' " +
        "AND EXISTS(SELECT VALUE t FROM t IN c.terms WHERE ARRAY_CONTAINS(@terms, t)) ORDER BY c.createdAt DESC";

    /// <summary>Every document id of one user, for erasing the partition.</summary>
    public const string UserDocumentIds = "SELECT VALUE c.id FROM c WHERE c.userId = @userId";

    /// <summary>
    /// The decay sweep, across partitions: only archive items due by <c>@now</c>, through the range
    /// index on <c>/forgetAt</c>, so its cost follows what is forgotten, not what is stored. The
    /// <c>_etag</c> lets the delete skip an item that was accessed (and so moved its forgetAt) meanwhile.
    /// </summary>
    public const string DueArchiveItems =
        "SELECT c.id, c.userId, c._etag FROM c WHERE c.type = 'archive' AND c.forgetAt <= @now";

    public static QueryDefinition ListArchiveQuery(string userId) =>
        new QueryDefinition(ListArchive).WithParameter("@userId", userId);

    public static QueryDefinition ArchiveLexicalQuery(string userId, IReadOnlyList<string> terms, int limit, float[]? vector = null) =>
        vector is null
            ? new QueryDefinition(ArchiveLexical)
                .WithParameter("@top", LexicalTop(limit))
                .WithParameter("@userId", userId)
                .WithParameter("@terms", terms)
            : new QueryDefinition(ArchiveLexicalScored)
                .WithParameter("@top", LexicalTop(limit))
                .WithParameter("@userId", userId)
                .WithParameter("@terms", terms)
                .WithParameter("@vector", vector)
                .WithParameter("@dimensions", vector.Length);

    public static int LexicalTop(int limit) => (int)Math.Min((long)limit * LexicalOverfetch, 1_000);

    public static QueryDefinition ArchiveVectorQuery(string userId, float[] vector, int limit, int containerDimensions) =>
        vector.Length == containerDimensions
            ? new QueryDefinition(ArchiveVector)
                .WithParameter("@top", limit)
                .WithParameter("@userId", userId)
                .WithParameter("@vector", vector)
            : new QueryDefinition(ArchiveVectorExact)
                .WithParameter("@top", limit)
                .WithParameter("@userId", userId)
                .WithParameter("@vector", vector)
                .WithParameter("@dimensions", vector.Length);

    public static QueryDefinition ListMessagesQuery(string userId, string? sessionId) =>
        sessionId is null
            ? new QueryDefinition(ListMessages).WithParameter("@userId", userId)
            : new QueryDefinition(ListSessionMessages).WithParameter("@userId", userId).WithParameter("@sessionId", sessionId);

    public static QueryDefinition SearchMessagesQuery(string userId, IReadOnlyList<string> terms, int limit) =>
        new QueryDefinition(SearchMessages)
            .WithParameter("@top", limit)
            .WithParameter("@userId", userId)
            .WithParameter("@terms", terms);

    public static QueryDefinition UserDocumentIdsQuery(string userId) =>
        new QueryDefinition(UserDocumentIds).WithParameter("@userId", userId);

    public static QueryDefinition DueArchiveItemsQuery(DateTimeOffset now) =>
        new QueryDefinition(DueArchiveItems).WithParameter("@now", CosmosTime.Format(now));
}
