using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using ServerlessMemory.Core;
using static ServerlessMemory.Sqlite.SqliteCommands;
using static ServerlessMemory.Sqlite.SqliteRows;

namespace ServerlessMemory.Sqlite;

// The writes: one transaction each; the vector indexes and the postings cache learn of a write after it commits.
public sealed partial class SqliteMemoryStore
{
    private const int SweepBatch = 1_000;

    public async Task<CommitResult> CommitAsync(string userId, MemoryChangeSet changes, CancellationToken cancellationToken = default)
    {
        if (changes.IsEmpty) return CommitResult.None;
        string? etag = null;
        var added = new List<(long Seq, ReadOnlyMemory<float> Vector)>();
        var removed = new List<long>();
        var skipped = new List<string>();
        var indexed = new List<(string Id, string Content)>();
        var unindexed = new List<string>();
        await using var connection = Open();
        await using (var tx = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken))
        {
            if (changes.Core is { } core) etag = await WriteCoreAsync(connection, userId, core, cancellationToken);

            var owner = SqliteLexicalIndex.Owner(userId);
            foreach (var (item, dueBy) in changes.ArchiveRenewals)
            {
                // Only over an item still forgotten by then: a concurrent renewal or access wins, and this one is skipped.
                await using var renew = Command(connection, """
                    UPDATE archive SET content = $content, type = $type, importance = $importance, created_at = $created, entered_at = $entered,
                        last_accessed_at = $accessed, access_count = $count, metadata = $metadata, embedding = $embedding, forget_at = $forget,
                        superseded_at = $sat, superseded_by = $sby, history = $history
                    WHERE user_id = $u AND id = $id AND forget_at <= $due
                    RETURNING seq
                    """, [.. ItemParameters(userId, item), ("$due", Ms(dueBy))]);
                if (await renew.ExecuteScalarAsync(cancellationToken) is long seq)
                {
                    // The row keeps its seq (its old vector leaves, the new one comes in), its id and so its
                    // content: the lexical index holds it already.
                    removed.Add(seq);
                    if (item.Embedding is { } renewedVector) added.Add((seq, renewedVector));
                }
                else if (await InsertAsync(connection, userId, item, cancellationToken) is { } inserted)
                {
                    if (item.Embedding is { } insertedVector) added.Add((inserted, insertedVector));
                    indexed.Add((item.Id, item.Content));
                }
                else skipped.Add(item.Id);
            }
            foreach (var item in changes.ArchiveAdds)
            {
                if (await InsertAsync(connection, userId, item, cancellationToken) is { } seq)
                {
                    if (item.Embedding is { } vector) added.Add((seq, vector));
                    indexed.Add((item.Id, item.Content));
                }
                else skipped.Add(item.Id); // the same memory is there already
            }

            // Restatements before supersessions: what a restated memory replaces is superseded by a current one.
            foreach (var r in changes.ArchiveRestatements)
            {
                // Only while it is still superseded as it was read: a concurrent restatement or supersession wins.
                var restated = await ExecuteAsync(connection, """
                    UPDATE archive SET superseded_at = NULL, superseded_by = NULL, created_at = $created, entered_at = $entered,
                        last_accessed_at = $entered, forget_at = $forget, history = $history
                    WHERE user_id = $u AND id = $id AND superseded_at = $superseded
                    """, cancellationToken, ("$u", userId), ("$id", r.Id), ("$created", Ms(r.CreatedAt)), ("$entered", Ms(r.EnteredAt)),
                    ("$forget", Ms(r.ForgetAt)), ("$history", History(r.History)), ("$superseded", Ms(r.SupersededAt)));
                if (restated == 0) skipped.Add(r.Id);
            }

            foreach (var s in changes.ArchiveSupersessions)
            {
                // Over a current item only, with a history only over the statement it was read from, and (when
                // asked) by a replacement still current: two opposite supersessions at once cannot both land.
                await ExecuteAsync(connection, """
                    UPDATE archive SET superseded_at = $at, superseded_by = $by, history = coalesce($history, history)
                    WHERE user_id = $u AND id = $id AND superseded_at IS NULL AND ($since IS NULL OR entered_at = $since)
                      AND (NOT $current OR EXISTS (SELECT 1 FROM archive r WHERE r.user_id = $u AND r.id = $by AND r.superseded_at IS NULL))
                    """, cancellationToken, ("$u", userId), ("$id", s.Id), ("$at", Ms(s.At)), ("$by", s.By),
                    ("$history", History(s.History)), ("$since", Ms(s.Since)), ("$current", s.RequireCurrentReplacement && s.By is not null));
            }

            foreach (var id in changes.ArchiveDeletes)
            {
                await using var delete = Command(connection, "DELETE FROM archive WHERE user_id = $u AND id = $id RETURNING seq", ("$u", userId), ("$id", id));
                if (await delete.ExecuteScalarAsync(cancellationToken) is not long seq) continue;
                removed.Add(seq);
                unindexed.Add(id);
            }

            foreach (var access in changes.Accesses)
            {
                await ExecuteAsync(connection, """
                    UPDATE archive SET access_count = access_count + $n, last_accessed_at = max(last_accessed_at, $at), forget_at = $forget
                    WHERE user_id = $u AND id = $id
                    """, cancellationToken, ("$u", userId), ("$id", access.Id), ("$at", Ms(access.At)), ("$forget", Ms(access.ForgetAt)), ("$n", access.Count));
            }

            foreach (var m in changes.Messages)
            {
                await using var insert = Command(connection, """
                    INSERT INTO message (user_id, id, session_id, turn_id, role, content, created_at)
                    VALUES ($u, $id, $s, $t, $r, $c, $at) RETURNING seq
                    """,
                    ("$u", userId), ("$id", m.Id), ("$s", m.SessionId), ("$t", m.TurnId), ("$r", m.Role), ("$c", m.Content), ("$at", Ms(m.CreatedAt)));
                var seq = (long)(await insert.ExecuteScalarAsync(cancellationToken))!;
                await SqliteLexicalIndex.AddMessageAsync(connection, seq, owner, m.Content, cancellationToken);
            }

            if (changes.Session is { } session)
            {
                var written = await ExecuteAsync(connection, session.ETag is null
                    ? "INSERT OR IGNORE INTO session (user_id, session_id, summary, summarized_through, version) VALUES ($u, $s, $summary, $through, 1)"
                    : "UPDATE session SET summary = $summary, summarized_through = $through, version = version + 1 WHERE user_id = $u AND session_id = $s AND version = $v",
                    cancellationToken, ("$u", userId), ("$s", session.SessionId), ("$summary", session.Summary),
                    ("$through", Ms(session.SummarizedThrough)), ("$v", session.ETag));
                if (written == 0) throw new MemoryConflictException($"Session '{session.SessionId}' was changed by another request.", "session");
            }

            await tx.CommitAsync(cancellationToken);
        }

        _vectors.Committed(userId, new VectorChange(added, removed));
        _lexical.Committed(userId, indexed, unindexed);
        return new(etag, skipped);
    }

    /// <summary>Inserts an item; null when an item of that id is stored already.</summary>
    private static async Task<long?> InsertAsync(SqliteConnection connection, string userId, ArchiveItem item, CancellationToken cancellationToken)
    {
        await using var insert = Command(connection, """
            INSERT OR IGNORE INTO archive (user_id, id, content, type, importance, created_at, entered_at, last_accessed_at, access_count, metadata, embedding, forget_at, superseded_at, superseded_by, history)
            VALUES ($u, $id, $content, $type, $importance, $created, $entered, $accessed, $count, $metadata, $embedding, $forget, $sat, $sby, $history)
            RETURNING seq
            """, ItemParameters(userId, item));
        return await insert.ExecuteScalarAsync(cancellationToken) as long?;
    }

    private static async Task<string> WriteCoreAsync(SqliteConnection connection, string userId, CoreMemory core, CancellationToken cancellationToken)
    {
        var blocks = JsonSerializer.Serialize(core.Blocks, Json);
        long version;
        if (core.ETag is null)
        {
            version = 1;
            if (await ExecuteAsync(connection, "INSERT OR IGNORE INTO core (user_id, blocks, version) VALUES ($u, $b, 1)", cancellationToken,
                    ("$u", userId), ("$b", blocks)) == 0)
                throw new MemoryConflictException("Core memory was created by another request.");
        }
        else
        {
            if (!long.TryParse(core.ETag, NumberStyles.None, CultureInfo.InvariantCulture, out var expected))
                throw new MemoryConflictException("Core memory has changed since it was read.");
            version = expected + 1;
            if (await ExecuteAsync(connection, "UPDATE core SET blocks = $b, version = $next WHERE user_id = $u AND version = $v", cancellationToken,
                    ("$u", userId), ("$b", blocks), ("$v", expected), ("$next", version)) == 0)
                throw new MemoryConflictException("Core memory has changed since it was read.");
        }
        return ETag(version);
    }

    /// <summary>One transaction whose row count says whether this call deleted it: one of concurrent deletes wins.</summary>
    public async Task<bool> DeleteArchiveItemAsync(string userId, string id, CancellationToken cancellationToken = default)
    {
        long? deleted;
        await using var connection = Open();
        await using (var tx = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken))
        {
            await using var delete = Command(connection, "DELETE FROM archive WHERE user_id = $u AND id = $id RETURNING seq", ("$u", userId), ("$id", id));
            deleted = await delete.ExecuteScalarAsync(cancellationToken) as long?;
            await tx.CommitAsync(cancellationToken);
        }
        if (deleted is { } removed)
        {
            _vectors.Committed(userId, new VectorChange([], [removed]));
            _lexical.Committed(userId, [], [id]);
        }
        return deleted is not null;
    }

    public async Task DeleteUserAsync(string userId, CancellationToken cancellationToken = default)
    {
        await using var connection = Open();
        await using (var tx = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken))
        {
            await ExecuteAsync(connection, """
                DELETE FROM archive WHERE user_id = $u;
                DELETE FROM message_terms WHERE rowid IN (SELECT seq FROM message WHERE user_id = $u);
                DELETE FROM message WHERE user_id = $u;
                DELETE FROM session WHERE user_id = $u;
                DELETE FROM core WHERE user_id = $u;
                """, cancellationToken, ("$u", userId));
            await tx.CommitAsync(cancellationToken);
        }
        _vectors.Forget(userId);
        _lexical.Forget(userId);
    }

    public async Task<SweepResult> SweepAsync(DateTimeOffset now, TimeSpan budget, CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        var scanned = 0;
        var forgotten = 0;
        var users = new HashSet<string>();
        await using var connection = Open();
        while (clock.Elapsed < budget)
        {
            // Each batch commits on its own: a sweep cut short keeps what it did, and the next run finishes.
            // The rows are chosen and deleted in one statement, so a memory read meanwhile (its forget_at
            // moved on) is not deleted.
            var due = new List<(long Seq, string User, string Id)>();
            await using (var tx = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken))
            {
                await using (var delete = Command(connection, """
                    DELETE FROM archive WHERE seq IN (SELECT seq FROM archive WHERE forget_at <= $now ORDER BY forget_at LIMIT $n)
                    RETURNING seq, user_id, id
                    """, ("$now", Ms(now)), ("$n", SweepBatch)))
                await using (var reader = await delete.ExecuteReaderAsync(cancellationToken))
                    while (await reader.ReadAsync(cancellationToken)) due.Add((reader.GetInt64(0), reader.GetString(1), reader.GetString(2)));
                await tx.CommitAsync(cancellationToken);
            }
            scanned += due.Count;
            forgotten += due.Count;
            foreach (var group in due.GroupBy(d => d.User, StringComparer.Ordinal))
            {
                users.Add(group.Key);
                _vectors.Committed(group.Key, new VectorChange([], [.. group.Select(d => d.Seq)]));
                _lexical.Committed(group.Key, [], [.. group.Select(d => d.Id)]);
            }
            if (due.Count < SweepBatch) break;
        }
        return new(scanned, forgotten, users.Count, clock.ElapsedMilliseconds);
    }

    /// <summary>One statement, written only over a row still without a vector and not forgotten; the vector cache learns it after the write.</summary>
    public async Task<bool> SetArchiveVectorAsync(PendingVector item, ReadOnlyMemory<float> vector, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(item);
        if (vector.Length == 0) return false;
        await using var connection = Open();
        await using var update = Command(connection, """
            UPDATE archive SET embedding = $embedding
            WHERE user_id = $u AND id = $id AND embedding IS NULL AND (forget_at IS NULL OR forget_at > $now)
            RETURNING seq
            """, ("$u", item.UserId), ("$id", item.Id), ("$now", Ms(now)), ("$embedding", VectorIndex.ToBlob(vector)));
        if (await update.ExecuteScalarAsync(cancellationToken) is not long seq) return false;
        _vectors.Committed(item.UserId, new VectorChange([(seq, vector)], []));
        return true;
    }
}
