using System.Globalization;
using System.Text.Json;
using ServerlessMemory.Core;
using static ServerlessMemory.Sqlite.SqliteCommands;
using static ServerlessMemory.Sqlite.SqliteRows;

namespace ServerlessMemory.Sqlite;

// The reads: each on its own connection.
public sealed partial class SqliteMemoryStore
{
    public async Task<CoreMemory?> GetCoreAsync(string userId, CancellationToken cancellationToken = default)
    {
        await using var connection = Open();
        await using var command = Command(connection, "SELECT blocks, version FROM core WHERE user_id = $u", ("$u", userId));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken)) return null;
        var blocks = JsonSerializer.Deserialize<List<MemoryBlock>>(reader.GetString(0), Json)!;
        return new CoreMemory(blocks, ETag(reader.GetInt64(1)));
    }

    public async Task<ArchiveItem?> GetArchiveItemAsync(string userId, string id, CancellationToken cancellationToken = default)
    {
        await using var connection = Open();
        var items = await ReadItemsAsync(connection, $"SELECT {ItemColumns} FROM archive WHERE user_id = $u AND id = $id", cancellationToken, ("$u", userId), ("$id", id));
        return items.Count == 0 ? null : items[0].Item;
    }

    /// <summary>Through the (user_id, id) key, one statement for the page of ids.</summary>
    public async Task<IReadOnlyDictionary<string, ReadOnlyMemory<float>>> GetArchiveVectorsAsync(
        string userId, IReadOnlyList<string> ids, CancellationToken cancellationToken = default)
    {
        var vectors = new Dictionary<string, ReadOnlyMemory<float>>(StringComparer.Ordinal);
        if (ids.Count == 0) return vectors;
        await using var connection = Open();
        await using var command = Command(connection,
            "SELECT id, embedding FROM archive WHERE user_id = $u AND id IN (SELECT value FROM json_each($ids)) AND embedding IS NOT NULL",
            ("$u", userId), ("$ids", JsonSerializer.Serialize(ids)));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            vectors[reader.GetString(0)] = VectorIndex.FromBlob((byte[])reader.GetValue(1)).ToArray();
        return vectors;
    }

    public async Task<Page<ArchiveItem>> ListArchiveAsync(string userId, int limit, string? continuationToken, CancellationToken cancellationToken = default)
    {
        var (created, seq) = ParseToken(continuationToken);
        await using var connection = Open();
        var rows = await ReadItemsAsync(connection, $"""
            SELECT {ItemColumns} FROM archive
            WHERE user_id = $u AND (created_at, seq) < ($created, $seq)
            ORDER BY created_at DESC, seq DESC LIMIT $limit
            """, cancellationToken, ("$u", userId), ("$created", created), ("$seq", seq), ("$limit", limit + 1));
        var more = rows.Count > limit;
        var page = rows.Take(limit).ToList();
        return new([.. page.Select(r => r.Item)],
            more ? Token(Ms(page[^1].Item.CreatedAt)!.Value, page[^1].Seq) : null);
    }

    /// <summary>
    /// The candidate contract from the user's in-memory <see cref="LexicalIndex"/>: every memory
    /// holding a query term, however many, with term counts and lengths. No SQL runs once it is built.
    /// </summary>
    public Task<LexicalMatches> FindLexicalMatchesAsync(string userId, IReadOnlyList<string> terms, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(terms);
        return terms.Count == 0 ? Task.FromResult(LexicalMatches.None) : _lexical.MatchAsync(userId, terms, Open, cancellationToken);
    }

    /// <summary>The chosen items read by their key, and the nearest in the user's <see cref="VectorIndex"/>, each with its similarity.</summary>
    public async Task<IReadOnlyList<ArchiveCandidate>> ReadArchiveCandidatesAsync(
        string userId, IReadOnlyList<string> ids, ReadOnlyMemory<float>? vector, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ids);
        float[]? query = null;
        VectorIndex? index = null;
        var nearest = new List<long>();
        if (vector is { Length: > 0 } v && limit > 0)
        {
            query = VectorIndex.Normalise(v.Span);
            index = await VectorsOfAsync(userId, v.Length, cancellationToken);
            nearest.AddRange(index.Nearest(query, limit).Select(n => n.Key));
        }
        if (ids.Count == 0 && nearest.Count == 0) return [];

        await using var connection = Open();
        // By the (user_id, id) key; the nearest by seq (`+user_id`: the user's index would read all their rows).
        var rows = await ReadItemsAsync(connection, nearest.Count == 0
            ? $"SELECT {ItemColumns} FROM archive WHERE user_id = $u AND id IN (SELECT value FROM json_each($ids))"
            : $"""
               SELECT {ItemColumns} FROM archive WHERE user_id = $u AND id IN (SELECT value FROM json_each($ids))
               UNION
               SELECT {ItemColumns} FROM archive WHERE +user_id = $u AND seq IN (SELECT value FROM json_each($seqs))
               """, cancellationToken, ("$u", userId), ("$ids", JsonSerializer.Serialize(ids)), ("$seqs", JsonSerializer.Serialize(nearest)));
        return [.. rows.Select(r => new ArchiveCandidate(r.Item, query is null ? null : index!.Similarity(query, r.Seq)))];
    }

    public async Task<Page<ConversationMessage>> ListMessagesAsync(
        string userId, string? sessionId, int limit, string? continuationToken, CancellationToken cancellationToken = default)
    {
        // By the time each was said, as Cosmos DB orders them, then as written: an imported conversation
        // arrives newest first, and still reads in the order it was said.
        var (created, seq) = ParseToken(continuationToken);
        await using var connection = Open();
        var rows = await ReadMessagesAsync(connection, $"""
            SELECT {MessageColumns} FROM message
            WHERE user_id = $u {(sessionId is null ? "" : "AND session_id = $s")} AND (created_at, seq) < ($created, $seq)
            ORDER BY created_at DESC, seq DESC LIMIT $limit
            """, cancellationToken, ("$u", userId), ("$s", sessionId), ("$created", created), ("$seq", seq), ("$limit", limit + 1));
        var more = rows.Count > limit;
        var page = rows.Take(limit).ToList();
        return new([.. page.Select(r => r.Message)], more ? Token(Ms(page[^1].Message.CreatedAt)!.Value, page[^1].Seq) : null);
    }

    public async Task<IReadOnlyList<ConversationMessage>> SearchMessagesAsync(
        string userId, IReadOnlyList<string> terms, int limit, CancellationToken cancellationToken = default)
    {
        if (terms.Count == 0) return [];
        await using var connection = Open();
        var match = SqliteLexicalIndex.CoordinateMatch(SqliteLexicalIndex.MessageTerms, userId, terms, limit, out var parameters);
        var rows = await ReadMessagesAsync(connection, $"""
            SELECT m.seq, m.id, m.session_id, m.turn_id, m.role, m.content, m.created_at
            FROM ({match}) hit JOIN message m ON m.seq = hit.rowid
            WHERE m.user_id = $u
            """, cancellationToken, [.. parameters, ("$u", userId)]);
        return [.. rows.OrderByDescending(r => r.Seq).Select(r => r.Message)];
    }

    /// <summary>
    /// Ids from the four tables' user indexes merged in order (each read from where the page starts,
    /// stopping at the page's end), then per user its archive count and newest times, each an index lookup.
    /// </summary>
    public async Task<Page<UserSummary>> ListUsersAsync(string prefix, int limit, string? continuationToken, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        var after = UserListing.After(continuationToken);
        // Ids are ASCII (the API checks them), so every id with the prefix sorts below prefix + U+007F.
        var range = "user_id > $after AND user_id >= $prefix AND user_id < $upper";
        await using var connection = Open();
        var ids = new List<string>();
        await using (var command = Command(connection, $"""
            SELECT user_id FROM core WHERE {range}
            UNION SELECT user_id FROM archive WHERE {range}
            UNION SELECT user_id FROM message WHERE {range}
            UNION SELECT user_id FROM session WHERE {range}
            ORDER BY user_id LIMIT $limit
            """, ("$after", after), ("$prefix", prefix), ("$upper", prefix + "\u007f"), ("$limit", limit + 1)))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
            while (await reader.ReadAsync(cancellationToken)) ids.Add(reader.GetString(0));

        var users = new List<UserSummary>();
        foreach (var id in ids.Take(limit))
        {
            await using var command = Command(connection, """
                SELECT (SELECT count(*) FROM archive WHERE user_id = $u),
                       (SELECT max(created_at) FROM archive WHERE user_id = $u),
                       (SELECT created_at FROM message WHERE user_id = $u ORDER BY seq DESC LIMIT 1)
                """, ("$u", id));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            long? newest = null;
            foreach (var column in new[] { 1, 2 })
                if (!reader.IsDBNull(column)) newest = Math.Max(newest ?? long.MinValue, reader.GetInt64(column));
            users.Add(new(id, reader.GetInt32(0), newest is { } ms ? FromMs(ms) : null));
        }
        return new(users, ids.Count > limit ? UserListing.Token(users[^1].UserId) : null);
    }

    public async Task<SessionState?> GetSessionAsync(string userId, string sessionId, CancellationToken cancellationToken = default)
    {
        await using var connection = Open();
        await using var command = Command(connection,
            "SELECT summary, summarized_through, version FROM session WHERE user_id = $u AND session_id = $s", ("$u", userId), ("$s", sessionId));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken)) return null;
        return new(sessionId, reader.GetString(0), reader.IsDBNull(1) ? null : FromMs(reader.GetInt64(1)), ETag(reader.GetInt64(2)));
    }

    /// <summary>Through the partial index <c>archive_without_vector</c>, which holds only the rows without a vector.</summary>
    public async Task<IReadOnlyList<PendingVector>> FindArchiveItemsWithoutVectorAsync(string? userId, DateTimeOffset now, int limit, CancellationToken cancellationToken = default)
    {
        var pending = new List<PendingVector>();
        if (limit <= 0) return pending;
        await using var connection = Open();
        await using var command = Command(connection, $"""
            SELECT user_id, id, content FROM archive INDEXED BY archive_without_vector
            WHERE embedding IS NULL {(userId is null ? "" : "AND user_id = $u")} AND (forget_at IS NULL OR forget_at > $now)
            LIMIT $n
            """, ("$u", userId), ("$now", Ms(now)), ("$n", limit));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) pending.Add(new(reader.GetString(0), reader.GetString(1), reader.GetString(2)));
        return pending;
    }

    private Task<VectorIndex> VectorsOfAsync(string userId, int dimensions, CancellationToken cancellationToken) =>
        _vectors.GetAsync(userId, () => new VectorIndex(dimensions), index => index.Dimensions == dimensions, async (index, ct) =>
        {
            // Its own connection: the read is one statement, so one snapshot, taken after the cache registered the build.
            await using var connection = Open();
            await using (var count = Command(connection, "SELECT count(*) FROM archive WHERE user_id = $u AND embedding IS NOT NULL", ("$u", userId)))
                index.Reserve(Convert.ToInt32(await count.ExecuteScalarAsync(ct), CultureInfo.InvariantCulture));
            await using var command = Command(connection, "SELECT seq, embedding FROM archive WHERE user_id = $u AND embedding IS NOT NULL", ("$u", userId));
            await using var reader = await command.ExecuteReaderAsync(ct);
            var blob = new byte[dimensions * sizeof(float)];
            while (await reader.ReadAsync(ct))
            {
                // Into one buffer: a build of 10,000 rows would otherwise leave 60 MB of blobs for the collector.
                var length = (int)reader.GetBytes(1, 0, null, 0, 0);
                if (length != blob.Length) continue; // another model's vector: it could not be compared anyway
                reader.GetBytes(1, 0, blob, 0, length);
                index.Add(reader.GetInt64(0), VectorIndex.FromBlob(blob));
            }
            index.TrimExcess();
        }, cancellationToken);
}
