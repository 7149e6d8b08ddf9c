using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using ServerlessMemory.Core;
using static ServerlessMemory.Sqlite.SqliteCommands;

namespace ServerlessMemory.Sqlite;

/// <summary>
/// Rows to records and back: the archive's columns, times as Unix milliseconds, metadata and core
/// blocks as JSON, and the continuation tokens of the listing routes.
/// </summary>
internal static class SqliteRows
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public const string ItemColumns = "seq, id, content, type, importance, created_at, last_accessed_at, access_count, metadata, forget_at, superseded_at, superseded_by, entered_at, history";

    public const string MessageColumns = "seq, id, session_id, turn_id, role, content, created_at";

    /// <summary>The parameters of an archive row, as the insert and the renewal write it.</summary>
    public static (string, object?)[] ItemParameters(string userId, ArchiveItem item) =>
    [
        ("$u", userId), ("$id", item.Id), ("$content", item.Content), ("$type", (int)item.Type),
        ("$importance", item.Importance), ("$created", Ms(item.CreatedAt)), ("$entered", Ms(item.EnteredAt)), ("$accessed", Ms(item.LastAccessedAt)),
        ("$count", item.AccessCount), ("$metadata", JsonSerializer.Serialize(item.Metadata, Json)),
        // An empty vector is none: stored as NULL, the row is one the vector backfill finds.
        ("$embedding", item.Embedding is { Length: > 0 } e ? VectorIndex.ToBlob(e) : null), ("$forget", Ms(item.ForgetAt)),
        ("$sat", Ms(item.SupersededAt)), ("$sby", item.SupersededBy), ("$history", History(item.History)),
    ];

    /// <summary>An item's history as stored: a JSON array of <c>{ from, to, supersededBy }</c>, times in Unix milliseconds; null when it has none.</summary>
    public static string? History(IReadOnlyList<ArchiveInterval>? history) => history is { Count: > 0 }
        ? JsonSerializer.Serialize(history.Select(i => new IntervalRow(Ms(i.From)!.Value, Ms(i.To)!.Value, i.SupersededBy)), Json)
        : null;

    private static IReadOnlyList<ArchiveInterval>? History(string? stored) =>
        stored is null ? null : [.. JsonSerializer.Deserialize<List<IntervalRow>>(stored, Json)!.Select(r => new ArchiveInterval(FromMs(r.From), FromMs(r.To), r.SupersededBy))];

    private sealed record IntervalRow(long From, long To, string? SupersededBy);

    /// <summary>Archive rows selected as <see cref="ItemColumns"/>, with their seq.</summary>
    public static async Task<List<(long Seq, ArchiveItem Item)>> ReadItemsAsync(
        SqliteConnection connection, string sql, CancellationToken cancellationToken, params (string, object?)[] parameters)
    {
        var items = new List<(long, ArchiveItem)>();
        await using var command = Command(connection, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            items.Add((reader.GetInt64(0), new ArchiveItem
            {
                Id = reader.GetString(1),
                Content = reader.GetString(2),
                Type = (MemoryType)reader.GetInt32(3),
                Importance = reader.GetDouble(4),
                CreatedAt = FromMs(reader.GetInt64(5)),
                EnteredAt = FromMs(reader.GetInt64(12)),
                LastAccessedAt = FromMs(reader.GetInt64(6)),
                AccessCount = reader.GetInt32(7),
                Metadata = reader.IsDBNull(8) || reader.GetString(8) is "{}" ? new Dictionary<string, string>()
                    : JsonSerializer.Deserialize<Dictionary<string, string>>(reader.GetString(8), Json)!,
                ForgetAt = reader.IsDBNull(9) ? null : FromMs(reader.GetInt64(9)),
                SupersededAt = reader.IsDBNull(10) ? null : FromMs(reader.GetInt64(10)),
                SupersededBy = reader.IsDBNull(11) ? null : reader.GetString(11),
                History = History(reader.IsDBNull(13) ? null : reader.GetString(13)),
            }));
        }
        return items;
    }

    /// <summary>Message rows selected as <see cref="MessageColumns"/>, with their seq.</summary>
    public static async Task<List<(long Seq, ConversationMessage Message)>> ReadMessagesAsync(
        SqliteConnection connection, string sql, CancellationToken cancellationToken, params (string, object?)[] parameters)
    {
        var messages = new List<(long, ConversationMessage)>();
        await using var command = Command(connection, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            messages.Add((reader.GetInt64(0), new ConversationMessage(reader.GetString(1), reader.GetString(2), reader.GetString(3),
                reader.GetString(4), reader.GetString(5), FromMs(reader.GetInt64(6)))));
        return messages;
    }

    /// <summary>A version number as the ETag the engine compares.</summary>
    public static string ETag(long version) => version.ToString(CultureInfo.InvariantCulture);

    /// <summary>The position after a page's last row: its creation time (archive) and seq.</summary>
    public static string Token(long created, long seq) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes($"{created}:{seq}"));

    /// <summary>The position a token names; no token: before everything.</summary>
    public static (long Created, long Seq) ParseToken(string? token)
    {
        if (token is null) return (long.MaxValue, long.MaxValue);
        try
        {
            var parts = Encoding.UTF8.GetString(Convert.FromBase64String(token)).Split(':');
            return (long.Parse(parts[0], CultureInfo.InvariantCulture), long.Parse(parts[1], CultureInfo.InvariantCulture));
        }
        catch (Exception e) when (e is FormatException or IndexOutOfRangeException or OverflowException)
        {
            throw MemoryValidationException.ForeignContinuationToken();
        }
    }

    public static long? Ms(DateTimeOffset? time) => time?.ToUnixTimeMilliseconds();

    public static DateTimeOffset FromMs(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);
}
