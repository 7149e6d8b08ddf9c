using System.Text.Json;
using System.Text.Json.Serialization;

namespace ServerlessMemory.Client;

/// <summary><c>GET /api/health</c>.</summary>
public sealed record HealthStatus(string Status, string Store, string Model);

/// <summary>A block of core memory: always in the prompt, at most <see cref="Limit"/> characters.</summary>
public sealed record MemoryBlock(string Label, string Value, int Limit, string Description, bool ReadOnly);

/// <summary>A user's core memory and its ETag (for <c>If-Match</c>).</summary>
public sealed record CoreMemory(IReadOnlyList<MemoryBlock> Blocks, [property: JsonPropertyName("etag")] string? ETag)
{
    /// <summary>The block with this label, or null.</summary>
    public MemoryBlock? this[string label] => Blocks.FirstOrDefault(b => b.Label == label);
}

/// <summary>What <c>PUT .../memory/core/{label}</c> writes; null fields keep the block's current setting.</summary>
public sealed record CoreBlockUpdate(string Value, string? Description = null, int? Limit = null, bool? ReadOnly = null);

/// <summary>The archive memory types, from never forgotten to fading within hours.</summary>
public static class MemoryTypes
{
    public const string Identity = "identity";
    public const string Preference = "preference";
    public const string Fact = "fact";
    public const string Context = "context";
    public const string Trivial = "trivial";
}

/// <summary>
/// A memory to add to the archive; it replaces the memories <see cref="Supersedes"/> names (their ids),
/// which become history. A superseded memory added again is current again, from its <see cref="CreatedAt"/>.
/// </summary>
public sealed record NewArchiveMemory(
    string Content, string? Type = null, double? Importance = null, DateTimeOffset? CreatedAt = null,
    IReadOnlyDictionary<string, string>? Metadata = null, IReadOnlyList<string>? Supersedes = null);

/// <summary>Why a search ranked an item where it did.</summary>
public sealed record ArchiveScore(double Total, double Relevance, double Decay, double AccessBonus);

/// <summary>
/// A memory in the archive: <see cref="CreatedAt"/> when it happened or was said (for one stated again,
/// when it was stated again), <see cref="EnteredAt"/> when it entered memory (decay runs from then).
/// A superseded one has <see cref="SupersededAt"/> and, when something replaced it, <see cref="SupersededBy"/>;
/// <see cref="History"/> holds each period it was true that has ended (null: none).
/// </summary>
public sealed record ArchiveItem(
    string Id, string Content, string Type, double Importance, DateTimeOffset CreatedAt, DateTimeOffset EnteredAt, DateTimeOffset LastAccessedAt,
    int AccessCount, IReadOnlyDictionary<string, string> Metadata, DateTimeOffset? ForgetAt, ArchiveScore? Score,
    DateTimeOffset? SupersededAt = null, string? SupersededBy = null, IReadOnlyList<ArchiveInterval>? History = null);

/// <summary>A period when a memory was true, and the id of the memory that ended it (null: retracted without a replacement).</summary>
public sealed record ArchiveInterval(DateTimeOffset From, DateTimeOffset To, string? SupersededBy);

/// <summary>An added archive memory; <see cref="Created"/> is false when the same content was stored already.</summary>
public sealed record ArchiveAddResult(ArchiveItem Item, bool Created);

/// <summary>A page of a list, newest first; pass <see cref="ContinuationToken"/> back for the next.</summary>
public sealed record Page<T>(IReadOnlyList<T> Items, string? ContinuationToken);

/// <summary>A message of the conversation.</summary>
public sealed record ConversationMessage(string Id, string SessionId, string TurnId, string Role, string Content, DateTimeOffset CreatedAt);

/// <summary>A change a turn made to memory.</summary>
public sealed record MemoryUpdate(string Target, string Action, string? Label, string? Id, string Content);

/// <summary>Model calls and tokens of a turn.</summary>
public sealed record TurnUsage(int ModelCalls, long PromptTokens, long CompletionTokens);

/// <summary>A memory tool the model called in a chat turn, with its JSON arguments and result.</summary>
public sealed record ToolCall(string Name, JsonElement? Arguments, JsonElement? Result);

/// <summary>A chat turn run by the service with its own model.</summary>
public sealed record ChatTurn(
    string TurnId, string Reply, IReadOnlyList<ToolCall> ToolCalls, IReadOnlyList<MemoryUpdate> MemoryUpdates,
    IReadOnlyList<string> Recalled, TurnUsage Usage);

/// <summary>
/// What a prompt needs from memory (<c>POST .../context</c>): core blocks, recalled archive memories,
/// the session's running summary, and all of it as one system text with its token count.
/// </summary>
public sealed record MemoryContext(
    string SessionId, IReadOnlyList<MemoryBlock> Blocks, IReadOnlyList<ArchiveItem> Recalled, string? Summary, string Text, int Tokens);

/// <summary>A message of a turn your agent ran, for <c>POST .../turns</c>.</summary>
public sealed record TurnMessage(string Role, string Content)
{
    public static TurnMessage User(string content) => new("user", content);

    public static TurnMessage Assistant(string content) => new("assistant", content);
}

/// <summary>A turn your agent ran, stored and extracted (<c>POST .../turns</c>).</summary>
public sealed record RecordedTurn(string TurnId, IReadOnlyList<MemoryUpdate> MemoryUpdates, TurnUsage Usage);

/// <summary>A memory tool as the model sees it: name, description and JSON schema of its arguments.</summary>
public sealed record MemoryTool(string Name, string Description, JsonElement Parameters);

/// <summary>One run of the decay sweep.</summary>
public sealed record SweepResult(int Scanned, int Forgotten, int Users, long DurationMs);

/// <summary>What an import did (or would do, on a dry run) with one section's records.</summary>
public sealed record ImportTally(int Added, int Updated, int Skipped, int Conflicts, int Forgotten);

/// <summary>A record the service holds differently from the document (the service's is kept).</summary>
public sealed record ImportConflict(string Section, string Id, string Reason);

/// <summary>
/// An import's answer: what landed per section, the conflicts and forgotten memories (the first 100 of
/// each), how vectors were taken (<c>reused</c>, <c>backfill</c> or <c>none</c>), the chunks written,
/// and, when it is not <see cref="Complete"/>, the <see cref="Cursor"/> to resume from.
/// </summary>
public sealed record ImportReport(
    string Mode, bool DryRun, bool Complete, int Chunks, long Records,
    ImportTally Core, ImportTally Archive, ImportTally Messages, ImportTally Sessions,
    string Vectors, IReadOnlyList<ImportConflict> Conflicts, IReadOnlyList<string> Forgotten, string? Cursor);

/// <summary>What an export carries: with <see cref="Vectors"/>, each memory's vector and the model and dimensions it was made with, which an import into a service of the same model reuses instead of embedding again.</summary>
public sealed record ExportOptions(bool Vectors = false);

/// <summary>How to import: <see cref="Mode"/> <c>merge</c> (default) or <c>replace</c>; a dry run writes nothing; a cursor resumes; <see cref="FromUserId"/> names the document's user when it is another.</summary>
public sealed record ImportOptions(string Mode = "merge", bool DryRun = false, string? Cursor = null, string? FromUserId = null);

/// <summary>How far an import's upload is: bytes of the document sent, of how many when known.</summary>
public sealed record ImportProgress(long BytesSent, long? TotalBytes);
