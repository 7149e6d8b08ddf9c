using System.Text.Json;

namespace ServerlessMemory.Core;

/// <summary>What the export says of its vectors: the embedding model that made them (null: none configured) and its dimensions.</summary>
public sealed record ExportVectors(string? Model, int Dimensions);

/// <summary>
/// Everything the service keeps for one user as one JSON document (<see cref="Format"/>, schema in
/// docs/export.schema.json): core memory with each line's time, every archive memory with its
/// decay state and supersession, the conversation and the sessions' summaries, and on request each
/// memory's vector with the model that made it. Written as it pages
/// through the store, a page at a time, so a user of any size exports in bounded memory.
/// </summary>
public sealed class MemoryExport(MemoryEngine engine)
{
    /// <summary>The document's format and version; another version is refused on import.</summary>
    public const string Format = "serverless-memory/1";

    /// <summary>Items read from the store at a time.</summary>
    public const int PageSize = 100;

    /// <summary>Bytes buffered before they are written to the stream.</summary>
    private const int FlushBytes = 32 * 1024;

    /// <summary>
    /// Writes the document. <paramref name="core"/> was read before the first byte, so that a store
    /// failure there is still an error status; a failure later leaves the document unfinished
    /// (not valid JSON), never one that looks whole.
    /// </summary>
    public async Task WriteAsync(string userId, CoreMemory? core, Utf8JsonWriter writer, ExportVectors? vectors = null, CancellationToken cancellationToken = default)
    {
        var now = engine.Now();
        writer.WriteStartObject();
        writer.WriteString("format", Format);
        writer.WriteString("userId", userId);
        writer.WriteString("exportedAt", UtcTime.ToText(now));
        writer.WriteString("store", engine.Store.Name);

        writer.WritePropertyName("core");
        if (core is null) writer.WriteNullValue();
        else
        {
            writer.WriteStartObject();
            writer.WriteStartArray("blocks");
            foreach (var block in core.Blocks) WriteBlock(writer, block);
            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        if (vectors is not null)
        {
            writer.WriteStartObject("vectors");
            if (vectors.Model is { } model) writer.WriteString("model", model);
            else writer.WriteNull("model");
            writer.WriteNumber("dimensions", vectors.Dimensions);
            writer.WriteEndObject();
        }

        writer.WriteStartArray("archive");
        string? token = null;
        do
        {
            var page = await engine.Store.ListArchiveAsync(userId, PageSize, token, cancellationToken);
            // A memory past its forgetAt is gone for every reader, the export included.
            var items = page.Items.Where(i => !MemoryUnitOfWork.IsForgotten(i, now)).ToList();
            var stored = vectors is null ? null : await engine.Store.GetArchiveVectorsAsync(userId, [.. items.Select(i => i.Id)], cancellationToken);
            foreach (var item in items) WriteItem(writer, item, stored);
            token = page.ContinuationToken;
            await FlushIfFullAsync(writer, cancellationToken);
        } while (token is not null);
        writer.WriteEndArray();

        // Messages of every session, newest first as the store lists them; the sessions seen are
        // few (their summaries follow), the messages are paged.
        var sessions = new SortedSet<string>(StringComparer.Ordinal);
        writer.WriteStartArray("messages");
        token = null;
        do
        {
            var page = await engine.Store.ListMessagesAsync(userId, null, PageSize, token, cancellationToken);
            foreach (var message in page.Items)
            {
                sessions.Add(message.SessionId);
                WriteMessage(writer, message);
            }
            token = page.ContinuationToken;
            await FlushIfFullAsync(writer, cancellationToken);
        } while (token is not null);
        writer.WriteEndArray();

        writer.WriteStartArray("sessions");
        foreach (var sessionId in sessions)
        {
            if (await engine.Store.GetSessionAsync(userId, sessionId, cancellationToken) is not { } session) continue;
            writer.WriteStartObject();
            writer.WriteString("sessionId", session.SessionId);
            writer.WriteString("summary", session.Summary);
            WriteTime(writer, "summarizedThrough", session.SummarizedThrough);
            writer.WriteEndObject();
        }
        writer.WriteEndArray();

        writer.WriteEndObject();
        await writer.FlushAsync(cancellationToken);
    }

    private static async Task FlushIfFullAsync(Utf8JsonWriter writer, CancellationToken cancellationToken)
    {
        if (writer.BytesPending >= FlushBytes) await writer.FlushAsync(cancellationToken);
    }

    internal static void WriteBlock(Utf8JsonWriter writer, MemoryBlock block)
    {
        writer.WriteStartObject();
        writer.WriteString("label", block.Label);
        writer.WriteString("value", block.Value);
        writer.WriteNumber("limit", block.Limit);
        writer.WriteString("description", block.Description);
        writer.WriteBoolean("readOnly", block.ReadOnly);
        if (block.Added is { Count: > 0 } added)
        {
            writer.WriteStartObject("added");
            foreach (var (line, at) in added.OrderBy(a => a.Key, StringComparer.Ordinal)) writer.WriteString(line, UtcTime.ToText(at));
            writer.WriteEndObject();
        }
        writer.WriteEndObject();
    }

    internal static void WriteItem(Utf8JsonWriter writer, ArchiveItem item, IReadOnlyDictionary<string, ReadOnlyMemory<float>>? vectors)
    {
        writer.WriteStartObject();
        writer.WriteString("id", item.Id);
        writer.WriteString("content", item.Content);
        writer.WriteString("type", item.Type.ToName());
        writer.WriteNumber("importance", item.Importance);
        writer.WriteString("createdAt", UtcTime.ToText(item.CreatedAt));
        writer.WriteString("enteredAt", UtcTime.ToText(item.EnteredAt));
        writer.WriteString("lastAccessedAt", UtcTime.ToText(item.LastAccessedAt));
        writer.WriteNumber("accessCount", item.AccessCount);
        WriteTime(writer, "forgetAt", item.ForgetAt);
        WriteTime(writer, "supersededAt", item.SupersededAt);
        if (item.SupersededBy is { } by) writer.WriteString("supersededBy", by);
        else writer.WriteNull("supersededBy");
        // Each period it was true that has ended, a restated memory's earlier ones included.
        writer.WriteStartArray("history");
        foreach (var interval in item.Intervals)
        {
            writer.WriteStartObject();
            writer.WriteString("from", UtcTime.ToText(interval.From));
            writer.WriteString("to", UtcTime.ToText(interval.To));
            if (interval.SupersededBy is { } end) writer.WriteString("supersededBy", end);
            else writer.WriteNull("supersededBy");
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
        writer.WriteStartObject("metadata");
        foreach (var (key, value) in item.Metadata.OrderBy(m => m.Key, StringComparer.Ordinal)) writer.WriteString(key, value);
        writer.WriteEndObject();
        if (vectors is not null)
        {
            // Null: stored without one (an embedding outage, or another model's length); the backfill embeds it.
            writer.WritePropertyName("vector");
            if (vectors.TryGetValue(item.Id, out var vector))
            {
                writer.WriteStartArray();
                foreach (var x in vector.Span) writer.WriteNumberValue(x);
                writer.WriteEndArray();
            }
            else writer.WriteNullValue();
        }
        writer.WriteEndObject();
    }

    internal static void WriteMessage(Utf8JsonWriter writer, ConversationMessage message)
    {
        writer.WriteStartObject();
        writer.WriteString("id", message.Id);
        writer.WriteString("sessionId", message.SessionId);
        writer.WriteString("turnId", message.TurnId);
        writer.WriteString("role", message.Role);
        writer.WriteString("content", message.Content);
        writer.WriteString("createdAt", UtcTime.ToText(message.CreatedAt));
        writer.WriteEndObject();
    }

    private static void WriteTime(Utf8JsonWriter writer, string name, DateTimeOffset? time)
    {
        if (time is { } t) writer.WriteString(name, UtcTime.ToText(t));
        else writer.WriteNull(name);
    }
}
