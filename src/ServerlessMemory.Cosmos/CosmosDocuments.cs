using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using ServerlessMemory.Core;

namespace ServerlessMemory.Cosmos;

/// <summary>
/// The documents of one user's logical partition (<c>/userId</c>): one <c>core</c>, one <c>archive</c>
/// per memory, one <c>message</c> per message, one <c>session</c> per session. Every name on the wire
/// is spelled out, so that renaming a C# property never renames a stored field or breaks a query in
/// <see cref="CosmosQueries"/>.
/// </summary>
internal static class DocumentTypes
{
    public const string Core = "core";
    public const string Archive = "archive";
    public const string Message = "message";
    public const string Session = "session";
}

internal abstract class CosmosDocument
{
    [JsonPropertyName("id")] public required string Id { get; init; }
    [JsonPropertyName("userId")] public required string UserId { get; init; }
    [JsonPropertyName("type")] public required string Type { get; init; }

    /// <summary>Seconds to live when a document opts in to the container's TTL; left out (never expires) when null.</summary>
    [JsonPropertyName("ttl"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? Ttl { get; init; }

    /// <summary>Set by the service on every write; read back as the ETag, never written.</summary>
    [JsonPropertyName("_etag"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? ETag { get; init; }
}

internal sealed class CoreDocument : CosmosDocument
{
    public const string DocumentId = "core";

    [JsonPropertyName("blocks")] public required List<BlockDocument> Blocks { get; init; }

    public static CoreDocument From(string userId, CoreMemory core) => new()
    {
        Id = DocumentId,
        UserId = userId,
        Type = DocumentTypes.Core,
        Blocks = [.. core.Blocks.Select(b => new BlockDocument
        {
            Label = b.Label, Value = b.Value, Limit = b.Limit, Description = b.Description, ReadOnly = b.ReadOnly,
            Added = b.Added is { Count: > 0 } added ? added.ToDictionary(a => a.Key, a => CosmosTime.Format(a.Value), StringComparer.Ordinal) : null,
        })],
    };

    public CoreMemory ToCore() =>
        new([.. Blocks.Select(b => new MemoryBlock(b.Label, b.Value, b.Limit, b.Description, b.ReadOnly)
        {
            Added = b.Added is { Count: > 0 } added ? added.ToDictionary(a => a.Key, a => CosmosTime.Parse(a.Value), StringComparer.Ordinal) : null,
        })], ETag);
}

internal sealed class BlockDocument
{
    [JsonPropertyName("label")] public required string Label { get; init; }
    [JsonPropertyName("value")] public required string Value { get; init; }
    [JsonPropertyName("limit")] public int Limit { get; init; }
    [JsonPropertyName("description")] public string Description { get; init; } = "";
    [JsonPropertyName("readOnly")] public bool ReadOnly { get; init; }

    /// <summary>When each line was appended (<see cref="MemoryBlock.Added"/>): a line replaced or consolidated later is archived with the time it was learnt.</summary>
    [JsonPropertyName("added"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Dictionary<string, string>? Added { get; init; }
}

/// <summary>
/// One archive memory. <c>terms</c> holds <see cref="LexicalTerms.ForIndex"/> of the content: words,
/// and for Chinese (and other CJK text, which has no spaces) single characters and overlapping
/// bigrams. Cosmos DB's full-text index documents no Chinese tokenizer, so lexical search never asks
/// it: it asks whether <c>terms</c> holds any query term (<see cref="CosmosQueries.ArchiveLexical"/>),
/// which the ordinary range index on <c>/terms/[]</c> answers, in any language.
/// </summary>
internal sealed class ArchiveDocument : CosmosDocument
{
    public const string Prefix = "archive:";

    [JsonPropertyName("content")] public required string Content { get; init; }
    [JsonPropertyName("memoryType")] public required string MemoryType { get; init; }
    [JsonPropertyName("importance")] public double Importance { get; init; }
    [JsonPropertyName("createdAt")] public required string CreatedAt { get; init; }

    /// <summary>When it entered memory, the clock decay runs on; absent on documents written before it was kept, which entered when they were created.</summary>
    [JsonPropertyName("enteredAt"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? EnteredAt { get; init; }

    [JsonPropertyName("lastAccessedAt")] public required string LastAccessedAt { get; init; }
    [JsonPropertyName("accessCount")] public int AccessCount { get; init; }
    [JsonPropertyName("metadata")] public Dictionary<string, string>? Metadata { get; init; }

    [JsonPropertyName("embedding"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public float[]? Embedding { get; init; }

    /// <summary>
    /// True while the item has no vector (stored during an embedding outage), left out once it has one:
    /// the vector backfill finds such items through the range index on this path.
    /// </summary>
    [JsonPropertyName("pendingVector"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public bool? PendingVector { get; init; }

    public const string PendingVectorPath = "/pendingVector";

    /// <summary>When the memory is due to be forgotten (<see cref="CosmosTime"/>); left out for memories never forgotten.</summary>
    [JsonPropertyName("forgetAt"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? ForgetAt { get; init; }

    [JsonPropertyName("terms"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<string>? Terms { get; init; }

    /// <summary>
    /// The content's length in terms (<see cref="TermCounts.Length"/>): what BM25 normalises by, and
    /// averages over the user's memories (<see cref="CosmosQueries.ArchiveAverageLength"/>).
    /// </summary>
    [JsonPropertyName("termCount"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? TermCount { get; init; }

    /// <summary>When a later memory contradicted it (<see cref="CosmosTime"/>); left out while it is current.</summary>
    [JsonPropertyName("supersededAt"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? SupersededAt { get; init; }

    [JsonPropertyName("supersededBy"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? SupersededBy { get; init; }

    /// <summary>The periods it was true that have ended (<see cref="ArchiveItem.History"/>); left out when none.</summary>
    [JsonPropertyName("history"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public HistoryDocument? History { get; init; }

    /// <summary>Cosine similarity to the query vector; only in the rows of a vector query.</summary>
    [JsonPropertyName("similarity"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? Similarity { get; init; }

    public static string DocumentId(string itemId) => Prefix + DocumentIds.Escape(itemId);

    /// <summary>
    /// The document of an item. Its embedding goes into the vector-indexed <c>/embedding</c> only when
    /// it has the container policy's <paramref name="embeddingDimensions"/> (when given): the service
    /// requires every vector in a path to match the policy, and a vector of another model could not be
    /// compared with the others anyway. Such an item is stored without one, and found by its words.
    /// </summary>
    public static ArchiveDocument From(string userId, ArchiveItem item, int? embeddingDimensions = null) => new()
    {
        Id = DocumentId(item.Id),
        UserId = userId,
        Type = DocumentTypes.Archive,
        Content = item.Content,
        MemoryType = item.Type.ToName(),
        Importance = item.Importance,
        CreatedAt = CosmosTime.Format(item.CreatedAt),
        EnteredAt = CosmosTime.Format(item.EnteredAt),
        LastAccessedAt = CosmosTime.Format(item.LastAccessedAt),
        AccessCount = item.AccessCount,
        Metadata = new Dictionary<string, string>(item.Metadata),
        Embedding = item.Embedding is { Length: > 0 } embedding && (embeddingDimensions is null || embedding.Length == embeddingDimensions)
            ? embedding.ToArray() : null,
        PendingVector = item.Embedding is { Length: > 0 } ? null : true,
        ForgetAt = CosmosTime.Format(item.ForgetAt),
        Terms = LexicalTerms.ForIndex(item.Content),
        TermCount = LexicalTerms.Counts(item.Content).Length,
        SupersededAt = CosmosTime.Format(item.SupersededAt),
        SupersededBy = item.SupersededBy,
        History = HistoryDocument.From(item.EnteredAt, item.History),
    };

    /// <summary>The item without its embedding, as every store returns it.</summary>
    public ArchiveItem ToItem()
    {
        MemoryTypes.TryParse(MemoryType, out var type);
        var createdAt = CosmosTime.Parse(CreatedAt);
        var enteredAt = EnteredAt is null ? createdAt : CosmosTime.Parse(EnteredAt);
        var lastAccessedAt = CosmosTime.Parse(LastAccessedAt);
        return new ArchiveItem
        {
            Id = DocumentIds.Unescape(Id[Prefix.Length..]),
            Content = Content,
            Type = type,
            Importance = Importance,
            CreatedAt = createdAt,
            EnteredAt = enteredAt,
            // Nothing is read before it enters memory. A renewal sets enteredAt and not lastAccessedAt
            // (a patch holds 10 operations): the forgotten item's last access, earlier, reads as its entry.
            LastAccessedAt = lastAccessedAt < enteredAt ? enteredAt : lastAccessedAt,
            AccessCount = AccessCount,
            Metadata = Metadata ?? new Dictionary<string, string>(),
            ForgetAt = ForgetAt is null ? null : CosmosTime.Parse(ForgetAt),
            SupersededAt = SupersededAt is null ? null : CosmosTime.Parse(SupersededAt),
            // A renewal clears supersededAt only (a patch holds 10 operations): supersededBy means nothing without it.
            SupersededBy = SupersededAt is null ? null : SupersededBy,
            History = History?.For(EnteredAt ?? CreatedAt),
        };
    }
}

/// <summary>An archive item's vector only, as the export reads it.</summary>
internal sealed class ArchiveVectorRow
{
    [JsonPropertyName("id")] public required string Id { get; init; }
    [JsonPropertyName("embedding")] public float[]? Embedding { get; init; }
}

/// <summary>
/// An item's history, with the <c>enteredAt</c> of the statement it belongs to. A renewal of a forgotten
/// item rewrites <c>enteredAt</c> but cannot clear this field too (a patch holds 10 operations): a
/// history whose <see cref="Since"/> is not the item's <c>enteredAt</c> is a forgotten memory's, and is none.
/// </summary>
internal sealed class HistoryDocument
{
    [JsonPropertyName("since")] public required string Since { get; init; }
    [JsonPropertyName("intervals")] public required IReadOnlyList<IntervalDocument> Intervals { get; init; }

    public static HistoryDocument? From(DateTimeOffset since, IReadOnlyList<ArchiveInterval>? history) => history is { Count: > 0 }
        ? new() { Since = CosmosTime.Format(since), Intervals = [.. history.Select(i => new IntervalDocument { From = CosmosTime.Format(i.From), To = CosmosTime.Format(i.To), SupersededBy = i.SupersededBy })] }
        : null;

    public IReadOnlyList<ArchiveInterval>? For(string enteredAt) => Since == enteredAt && Intervals.Count > 0
        ? [.. Intervals.Select(i => new ArchiveInterval(CosmosTime.Parse(i.From), CosmosTime.Parse(i.To), i.SupersededBy))]
        : null;
}

internal sealed class IntervalDocument
{
    [JsonPropertyName("from")] public required string From { get; init; }
    [JsonPropertyName("to")] public required string To { get; init; }
    [JsonPropertyName("supersededBy"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? SupersededBy { get; init; }
}

internal sealed class MessageDocument : CosmosDocument
{
    public const string Prefix = "message:";

    [JsonPropertyName("sessionId")] public required string SessionId { get; init; }
    [JsonPropertyName("turnId")] public required string TurnId { get; init; }
    [JsonPropertyName("role")] public required string Role { get; init; }
    [JsonPropertyName("content")] public required string Content { get; init; }
    [JsonPropertyName("createdAt")] public required string CreatedAt { get; init; }

    [JsonPropertyName("terms"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<string>? Terms { get; init; }

    public static string DocumentId(string messageId) => Prefix + DocumentIds.Escape(messageId);

    public static MessageDocument From(string userId, ConversationMessage m) => new()
    {
        Id = DocumentId(m.Id),
        UserId = userId,
        Type = DocumentTypes.Message,
        SessionId = m.SessionId,
        TurnId = m.TurnId,
        Role = m.Role,
        Content = m.Content,
        CreatedAt = CosmosTime.Format(m.CreatedAt),
        Terms = LexicalTerms.ForIndex(m.Content),
    };

    public ConversationMessage ToMessage() =>
        new(DocumentIds.Unescape(Id[Prefix.Length..]), SessionId, TurnId, Role, Content, CosmosTime.Parse(CreatedAt));
}

/// <summary>A session's running summary; its <c>_etag</c> is the version that optimistic concurrency checks.</summary>
internal sealed class SessionDocument : CosmosDocument
{
    public const string Prefix = "session:";

    [JsonPropertyName("sessionId")] public required string SessionId { get; init; }
    [JsonPropertyName("summary")] public required string Summary { get; init; }

    [JsonPropertyName("summarizedThrough"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? SummarizedThrough { get; init; }

    public static string DocumentId(string sessionId) => Prefix + DocumentIds.Escape(sessionId);

    public static SessionDocument From(string userId, SessionState session) => new()
    {
        Id = DocumentId(session.SessionId),
        UserId = userId,
        Type = DocumentTypes.Session,
        SessionId = session.SessionId,
        Summary = session.Summary,
        SummarizedThrough = CosmosTime.Format(session.SummarizedThrough),
    };

    public SessionState ToSession() =>
        new(SessionId, Summary, SummarizedThrough is null ? null : CosmosTime.Parse(SummarizedThrough), ETag);
}

/// <summary>A row of the vector backfill's query: the item to embed, and the version to write it over.</summary>
internal sealed class PendingVectorDocument
{
    [JsonPropertyName("id")] public required string Id { get; init; }
    [JsonPropertyName("userId")] public required string UserId { get; init; }
    [JsonPropertyName("content")] public required string Content { get; init; }
    [JsonPropertyName("_etag")] public string? ETag { get; init; }
}

/// <summary>A row of the sweep's query: just enough to delete the document if it has not changed since.</summary>
internal sealed class DueDocument
{
    [JsonPropertyName("id")] public required string Id { get; init; }
    [JsonPropertyName("userId")] public required string UserId { get; init; }
    [JsonPropertyName("_etag")] public string? ETag { get; init; }
}

/// <summary>
/// Times are stored as ISO 8601 UTC strings of fixed width with seven fractional digits
/// (<c>2026-03-01T08:00:00.0000000Z</c>, the format of Cosmos DB's own <c>GetCurrentDateTime()</c>):
/// they compare as strings in the same order as in time, so range filters (<c>forgetAt &lt;= @now</c>)
/// and <c>ORDER BY createdAt</c> use the range index, and a turn's messages, a tick apart, keep their order.
/// </summary>
internal static class CosmosTime
{
    private const string Pattern = "yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'";

    public static string Format(DateTimeOffset time) => time.UtcDateTime.ToString(Pattern, CultureInfo.InvariantCulture);

    public static string? Format(DateTimeOffset? time) => time is { } t ? Format(t) : null;

    public static DateTimeOffset Parse(string text) =>
        new(DateTime.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal), TimeSpan.Zero);
}

/// <summary>
/// Document ids are a kind prefix and the store's own id, so an archive item, a message and a session
/// can never share an id. The four characters Cosmos DB forbids in ids (<c>/ \ ? #</c>) and the escape
/// character itself are percent-encoded, which keeps the mapping one to one.
/// </summary>
internal static class DocumentIds
{
    public static string Escape(string id)
    {
        if (id.AsSpan().IndexOfAny("/\\?#%") < 0) return id;
        var escaped = new StringBuilder(id.Length + 8);
        foreach (var c in id)
            escaped.Append(c is '/' or '\\' or '?' or '#' or '%' ? $"%{(int)c:X2}" : c.ToString());
        return escaped.ToString();
    }

    public static string Unescape(string id) => id.Contains('%', StringComparison.Ordinal) ? Uri.UnescapeDataString(id) : id;
}

/// <summary>The one set of JSON options: the client's serializer and the store's own stream reads and writes share it.</summary>
internal static class CosmosJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        // Chinese stays as it is in documents instead of \uXXXX escapes: smaller, and readable in the portal.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static byte[] Serialize<T>(T document) => JsonSerializer.SerializeToUtf8Bytes(document, Options);
}
