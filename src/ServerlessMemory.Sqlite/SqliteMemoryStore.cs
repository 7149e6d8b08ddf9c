using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using ServerlessMemory.Core;

namespace ServerlessMemory.Sqlite;

/// <summary>
/// The embedded store: one SQLite file in WAL mode, FTS5 over <see cref="LexicalTerms"/> for
/// lexical search in any language, float32 embedding blobs searched through an in-memory
/// <see cref="VectorIndex"/>, and one transaction around every write of more than one row.
/// </summary>
public sealed class SqliteMemoryStore : IMemoryStore
{
    private const int SweepBatch = 1_000;
    private const int PostingsPerTerm = 2_000;
    private const int MaxQueryTerms = 32;
    private const int FrequencyCap = 20_000;
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>The default budget of the in-memory vector indexes: about ten users of 10,000 memories of 1,536 floats.</summary>
    public const int DefaultVectorCacheMegabytes = 640;

    private readonly string _connectionString;
    private readonly VectorCache _vectors;
    private readonly PostingsCache _postings = new(capacity: 4_000_000); // rows: 32 MB

    public SqliteMemoryStore(string path, int vectorCacheMegabytes = DefaultVectorCacheMegabytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(vectorCacheMegabytes);
        _vectors = new VectorCache(vectorCacheMegabytes * 1024L * 1024L);
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        _connectionString = new SqliteConnectionStringBuilder { DataSource = full, Pooling = true, DefaultTimeout = 30 }.ToString();
        using var connection = Open();
        using var schema = typeof(SqliteMemoryStore).Assembly.GetManifestResourceStream("Schema.sql")!;
        Execute(connection, new StreamReader(schema).ReadToEnd());
        Migrate(connection);
        Reindex(connection);
    }

    /// <summary>Brings a file made by an earlier build up to the schema: columns added since are added, empty.</summary>
    private static void Migrate(SqliteConnection connection)
    {
        var columns = new HashSet<string>(StringComparer.Ordinal);
        using (var info = Command(connection, "SELECT name FROM pragma_table_info('archive')"))
        using (var reader = info.ExecuteReader())
            while (reader.Read()) columns.Add(reader.GetString(0));
        if (!columns.Contains("superseded_at")) Execute(connection, "ALTER TABLE archive ADD COLUMN superseded_at INTEGER");
        if (!columns.Contains("superseded_by")) Execute(connection, "ALTER TABLE archive ADD COLUMN superseded_by TEXT");
    }

    /// <summary>
    /// Terms written by another version of <see cref="LexicalTerms"/> (another stemmer) would not
    /// meet the queries of this one: index them again, once, when the file is opened.
    /// </summary>
    private static void Reindex(SqliteConnection connection)
    {
        using (var read = Command(connection, "PRAGMA user_version"))
            if ((long)read.ExecuteScalar()! == LexicalTerms.Version) return;
        using var tx = connection.BeginTransaction();
        foreach (var (table, terms) in new[] { ("archive", "archive_terms"), ("message", "message_terms") })
        {
            Execute(connection, $"DELETE FROM {terms}");
            var rows = new List<(long Seq, string User, string Content)>();
            using (var select = Command(connection, $"SELECT seq, user_id, content FROM {table}"))
            using (var reader = select.ExecuteReader())
                while (reader.Read()) rows.Add((reader.GetInt64(0), reader.GetString(1), reader.GetString(2)));
            using var insert = Command(connection, $"INSERT INTO {terms} (rowid, terms) VALUES ($seq, $terms)", ("$seq", 0L), ("$terms", ""));
            foreach (var (seq, user, content) in rows)
            {
                insert.Parameters["$seq"].Value = seq;
                insert.Parameters["$terms"].Value = Indexed(Owner(user), content);
                insert.ExecuteNonQuery();
            }
        }
        Execute(connection, $"PRAGMA user_version = {LexicalTerms.Version}");
        tx.Commit();
    }

    public string Name => "sqlite";

    public async Task<CoreMemory?> GetCoreAsync(string userId, CancellationToken cancellationToken = default)
    {
        await using var connection = Open();
        await using var command = Command(connection, "SELECT blocks, version FROM core WHERE user_id = $u", ("$u", userId));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken)) return null;
        var blocks = JsonSerializer.Deserialize<List<MemoryBlock>>(reader.GetString(0), Json)!;
        return new CoreMemory(blocks, reader.GetInt64(1).ToString(CultureInfo.InvariantCulture));
    }

    public async Task<CommitResult> CommitAsync(string userId, MemoryChangeSet changes, CancellationToken cancellationToken = default)
    {
        if (changes.IsEmpty) return CommitResult.None;
        string? etag = null;
        var added = new List<(long Seq, ReadOnlyMemory<float> Vector)>();
        var removed = new List<long>();
        var skipped = new List<string>();
        await using var connection = Open();
        await using (var tx = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken))
        {
            if (changes.Core is { } core) etag = await WriteCoreAsync(connection, userId, core, cancellationToken);

            var owner = Owner(userId);
            foreach (var (item, dueBy) in changes.ArchiveRenewals)
            {
                // Only over an item still forgotten by then: a concurrent renewal or access wins, and this one is skipped.
                await using var renew = Command(connection, """
                    UPDATE archive SET content = $content, type = $type, importance = $importance, created_at = $created,
                        last_accessed_at = $accessed, access_count = $count, metadata = $metadata, embedding = $embedding, forget_at = $forget,
                        superseded_at = $sat, superseded_by = $sby
                    WHERE user_id = $u AND id = $id AND forget_at <= $due
                    RETURNING seq
                    """, [.. ItemParameters(userId, item), ("$due", Ms(dueBy))]);
                if (await renew.ExecuteScalarAsync(cancellationToken) is long seq)
                {
                    await ExecuteAsync(connection, "DELETE FROM archive_terms WHERE rowid = $seq; INSERT INTO archive_terms (rowid, terms) VALUES ($seq, $terms)",
                        cancellationToken, ("$seq", seq), ("$terms", Indexed(owner, item.Content)));
                    removed.Add(seq); // the row keeps its seq: its old vector leaves, the new one comes in
                    if (item.Embedding is { } renewedVector) added.Add((seq, renewedVector));
                }
                else if (await InsertAsync(connection, userId, owner, item, cancellationToken) is { } inserted)
                {
                    if (item.Embedding is { } insertedVector) added.Add((inserted, insertedVector));
                }
                else skipped.Add(item.Id);
            }
            foreach (var item in changes.ArchiveAdds)
            {
                if (await InsertAsync(connection, userId, owner, item, cancellationToken) is { } seq)
                {
                    if (item.Embedding is { } vector) added.Add((seq, vector));
                }
                else skipped.Add(item.Id); // the same memory is there already
            }

            foreach (var s in changes.ArchiveSupersessions)
            {
                await ExecuteAsync(connection, """
                    UPDATE archive SET superseded_at = $at, superseded_by = $by WHERE user_id = $u AND id = $id AND superseded_at IS NULL
                    """, cancellationToken, ("$u", userId), ("$id", s.Id), ("$at", Ms(s.At)), ("$by", s.By));
            }

            foreach (var id in changes.ArchiveDeletes)
            {
                await using var delete = Command(connection, "DELETE FROM archive WHERE user_id = $u AND id = $id RETURNING seq", ("$u", userId), ("$id", id));
                if (await delete.ExecuteScalarAsync(cancellationToken) is not long seq) continue;
                await ExecuteAsync(connection, "DELETE FROM archive_terms WHERE rowid = $seq", cancellationToken, ("$seq", seq));
                removed.Add(seq);
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
                await ExecuteAsync(connection, "INSERT INTO message_terms (rowid, terms) VALUES ($seq, $terms)", cancellationToken,
                    ("$seq", seq), ("$terms", Indexed(owner, m.Content)));
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

        _vectors.Committed(userId, added, removed);
        if (changes.ArchiveAdds.Count > 0 || changes.ArchiveRenewals.Count > 0 || changes.ArchiveDeletes.Count > 0) _postings.Changed(userId);
        return new(etag, skipped);
    }

    /// <summary>Inserts an item and its terms; null when an item of that id is stored already.</summary>
    private static async Task<long?> InsertAsync(SqliteConnection connection, string userId, string owner, ArchiveItem item, CancellationToken cancellationToken)
    {
        await using var insert = Command(connection, """
            INSERT OR IGNORE INTO archive (user_id, id, content, type, importance, created_at, last_accessed_at, access_count, metadata, embedding, forget_at, superseded_at, superseded_by)
            VALUES ($u, $id, $content, $type, $importance, $created, $accessed, $count, $metadata, $embedding, $forget, $sat, $sby)
            RETURNING seq
            """, ItemParameters(userId, item));
        if (await insert.ExecuteScalarAsync(cancellationToken) is not long seq) return null;
        await ExecuteAsync(connection, "INSERT INTO archive_terms (rowid, terms) VALUES ($seq, $terms)", cancellationToken,
            ("$seq", seq), ("$terms", Indexed(owner, item.Content)));
        return seq;
    }

    private static (string, object?)[] ItemParameters(string userId, ArchiveItem item) =>
    [
        ("$u", userId), ("$id", item.Id), ("$content", item.Content), ("$type", (int)item.Type),
        ("$importance", item.Importance), ("$created", Ms(item.CreatedAt)), ("$accessed", Ms(item.LastAccessedAt)),
        ("$count", item.AccessCount), ("$metadata", JsonSerializer.Serialize(item.Metadata, Json)),
        // An empty vector is none: stored as NULL, the row is one the vector backfill finds.
        ("$embedding", item.Embedding is { Length: > 0 } e ? VectorIndex.ToBlob(e) : null), ("$forget", Ms(item.ForgetAt)),
        ("$sat", Ms(item.SupersededAt)), ("$sby", item.SupersededBy),
    ];

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
        return version.ToString(CultureInfo.InvariantCulture);
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
            if (deleted is { } seq)
                await ExecuteAsync(connection, "DELETE FROM archive_terms WHERE rowid = $seq", cancellationToken, ("$seq", seq));
            await tx.CommitAsync(cancellationToken);
        }
        if (deleted is { } removed)
        {
            _vectors.Committed(userId, [], [removed]);
            _postings.Changed(userId);
        }
        return deleted is not null;
    }

    public async Task<ArchiveItem?> GetArchiveItemAsync(string userId, string id, CancellationToken cancellationToken = default)
    {
        await using var connection = Open();
        var items = await ReadItemsAsync(connection, $"SELECT {ItemColumns} FROM archive WHERE user_id = $u AND id = $id", cancellationToken, ("$u", userId), ("$id", id));
        return items.Count == 0 ? null : items[0].Item;
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

    public async Task<IReadOnlyList<ArchiveCandidate>> FindArchiveCandidatesAsync(
        string userId, IReadOnlyList<string> terms, ReadOnlyMemory<float>? vector, int limit, CancellationToken cancellationToken = default) =>
        (await FindArchiveCandidatesWithStatisticsAsync(userId, terms, vector, limit, cancellationToken)).Items;

    /// <summary>
    /// Lexical candidates are the rows with the highest sum of their query terms' BM25 weights
    /// (rare terms first), counted from the user's own postings; vector candidates the nearest in
    /// the user's <see cref="VectorIndex"/>. The statistics go to the engine, which ranks.
    /// </summary>
    public async Task<ArchiveCandidates> FindArchiveCandidatesWithStatisticsAsync(
        string userId, IReadOnlyList<string> terms, ReadOnlyMemory<float>? vector, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(terms);
        await using var connection = Open();
        var (seqs, statistics) = terms.Count > 0 && limit > 0
            ? await LexicalCandidatesAsync(connection, userId, terms, limit, cancellationToken)
            : ([], null);

        float[]? query = null;
        VectorIndex? index = null;
        if (vector is { } v && limit > 0)
        {
            query = VectorIndex.Normalise(v.Span);
            index = await VectorsOfAsync(userId, v.Length, cancellationToken);
            var lexical = seqs.ToHashSet();
            foreach (var (key, _) in index.Nearest(query, limit))
                if (lexical.Add(key)) seqs.Add(key);
        }
        if (seqs.Count == 0) return new([], statistics);

        var rows = await ReadItemsAsync(connection,
            // `+user_id`: look each row up by its key; the user's index would read all their rows.
            $"SELECT {ItemColumns} FROM archive WHERE +user_id = $u AND seq IN (SELECT value FROM json_each($seqs))",
            cancellationToken, ("$u", userId), ("$seqs", JsonSerializer.Serialize(seqs)));
        var order = seqs.Select((seq, i) => (seq, i)).ToDictionary(x => x.seq, x => x.i);
        return new([.. rows.OrderBy(r => order[r.Seq]).Select(r => new ArchiveCandidate(r.Item, query is null ? null : index!.Similarity(query, r.Seq)))],
            statistics);
    }

    /// <summary>
    /// The rows with the highest sum of their query terms' BM25 weights (rare terms first), newest
    /// first among equals, and the statistics the weights come from: the user's memory count and
    /// each term's document frequency. Each term's newest <see cref="PostingsPerTerm"/> postings are
    /// read once, in one statement, and summed here (SQLite's GROUP BY and sort of the same rows cost
    /// twice as much); only a term with more postings than that has its frequency counted apart, up
    /// to <see cref="FrequencyCap"/> (past it a term is common whatever its exact count), so a very
    /// common term costs the same at 10k memories as at 1M.
    /// </summary>
    private async Task<(List<long> Seqs, TermStatistics Statistics)> LexicalCandidatesAsync(
        SqliteConnection connection, string userId, IReadOnlyList<string> terms, int limit, CancellationToken cancellationToken)
    {
        var version = _postings.VersionOf(userId);
        var used = terms.Take(MaxQueryTerms).ToList();
        var lists = new Postings?[used.Count];
        for (var i = 0; i < used.Count; i++)
            if (_postings.TryGet(userId, used[i], out var held)) lists[i] = held;
        if (!_postings.TryGet(userId, "", out var count) || lists.Any(l => l is null))
            count = await ReadPostingsAsync(connection, userId, used, lists, version, cancellationToken);

        var sums = new Dictionary<long, double>();
        var frequency = new Dictionary<string, long>(StringComparer.Ordinal);
        for (var i = 0; i < used.Count; i++)
        {
            var df = frequency[used[i]] = lists[i]!.Frequency;
            var weight = Math.Log(1 + (count.Frequency - df + 0.5) / (df + 0.5));
            foreach (var seq in lists[i]!.Seqs) sums[seq] = sums.GetValueOrDefault(seq) + weight;
        }
        // The best `limit` of them, without sorting the rest: a min-heap of the best so far.
        var best = new PriorityQueue<long, (double Sum, long Seq)>(limit + 1);
        foreach (var (seq, sum) in sums)
        {
            if (best.Count < limit) best.Enqueue(seq, (sum, seq));
            else if (best.TryPeek(out _, out var least) && (sum, seq).CompareTo(least) > 0) best.EnqueueDequeue(seq, (sum, seq));
        }
        var seqs = new List<long>(best.Count);
        while (best.TryDequeue(out var seq, out _)) seqs.Add(seq);
        seqs.Reverse();
        return (seqs, new(count.Frequency, frequency));
    }

    /// <summary>Reads the posting lists <paramref name="lists"/> lacks, and the memory count, filing them under <paramref name="version"/>.</summary>
    private async Task<Postings> ReadPostingsAsync(
        SqliteConnection connection, string userId, List<string> terms, Postings?[] lists, long version, CancellationToken cancellationToken)
    {
        var owner = Owner(userId);
        var missing = Enumerable.Range(0, terms.Count).Where(i => lists[i] is null).ToList();
        var phrases = missing.Select(i => ($"$t{i}", (object?)Phrase(owner, terms[i]))).ToArray();
        var read = missing.ToDictionary(i => i, _ => new List<long>());
        if (missing.Count > 0)
        {
            var union = string.Join(" UNION ALL ", missing.Select(i =>
                $"SELECT {i}, rowid FROM (SELECT rowid FROM archive_terms WHERE archive_terms MATCH $t{i} ORDER BY rowid DESC LIMIT {PostingsPerTerm})"));
            await using var command = Command(connection, union, phrases);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (reader.Read()) read[reader.GetInt32(0)].Add(reader.GetInt64(1));
        }

        var common = missing.Where(i => read[i].Count >= PostingsPerTerm).ToList();
        var counts = string.Concat(common.Select(i => $", (SELECT count(*) FROM (SELECT 1 FROM archive_terms WHERE archive_terms MATCH $t{i} LIMIT {FrequencyCap}))"));
        await using (var command = Command(connection, $"SELECT (SELECT count(*) FROM archive WHERE user_id = $u){counts}",
                         [("$u", userId), .. common.Select(i => phrases[missing.IndexOf(i)])]))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            await reader.ReadAsync(cancellationToken);
            var documents = new Postings(version, [], reader.GetInt64(0));
            _postings.Add(userId, "", documents);
            foreach (var i in missing)
            {
                var c = common.IndexOf(i);
                lists[i] = new Postings(version, [.. read[i]], c < 0 ? read[i].Count : reader.GetInt64(c + 1));
                _postings.Add(userId, terms[i], lists[i]!);
            }
            return documents;
        }
    }

    public async Task<Page<ConversationMessage>> ListMessagesAsync(
        string userId, string? sessionId, int limit, string? continuationToken, CancellationToken cancellationToken = default)
    {
        var (_, before) = ParseToken(continuationToken);
        await using var connection = Open();
        var rows = await ReadMessagesAsync(connection, $"""
            SELECT seq, id, session_id, turn_id, role, content, created_at FROM message
            WHERE user_id = $u {(sessionId is null ? "" : "AND session_id = $s")} AND seq < $before
            ORDER BY seq DESC LIMIT $limit
            """, cancellationToken, ("$u", userId), ("$s", sessionId), ("$before", before), ("$limit", limit + 1));
        var more = rows.Count > limit;
        var page = rows.Take(limit).ToList();
        return new([.. page.Select(r => r.Message)], more ? Token(0, page[^1].Seq) : null);
    }

    public async Task<IReadOnlyList<ConversationMessage>> SearchMessagesAsync(
        string userId, IReadOnlyList<string> terms, int limit, CancellationToken cancellationToken = default)
    {
        if (terms.Count == 0) return [];
        await using var connection = Open();
        var match = CoordinateMatch("message_terms", userId, terms, limit, out var parameters);
        var rows = await ReadMessagesAsync(connection, $"""
            SELECT m.seq, m.id, m.session_id, m.turn_id, m.role, m.content, m.created_at
            FROM ({match}) hit JOIN message m ON m.seq = hit.rowid
            WHERE m.user_id = $u
            """, cancellationToken, [.. parameters, ("$u", userId)]);
        return [.. rows.OrderByDescending(r => r.Seq).Select(r => r.Message)];
    }

    public async Task<SessionState?> GetSessionAsync(string userId, string sessionId, CancellationToken cancellationToken = default)
    {
        await using var connection = Open();
        await using var command = Command(connection,
            "SELECT summary, summarized_through, version FROM session WHERE user_id = $u AND session_id = $s", ("$u", userId), ("$s", sessionId));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken)) return null;
        return new(sessionId, reader.GetString(0), reader.IsDBNull(1) ? null : FromMs(reader.GetInt64(1)),
            reader.GetInt64(2).ToString(CultureInfo.InvariantCulture));
    }

    public async Task DeleteUserAsync(string userId, CancellationToken cancellationToken = default)
    {
        await using var connection = Open();
        await using (var tx = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken))
        {
            await ExecuteAsync(connection, """
                DELETE FROM archive_terms WHERE rowid IN (SELECT seq FROM archive WHERE user_id = $u);
                DELETE FROM archive WHERE user_id = $u;
                DELETE FROM message_terms WHERE rowid IN (SELECT seq FROM message WHERE user_id = $u);
                DELETE FROM message WHERE user_id = $u;
                DELETE FROM session WHERE user_id = $u;
                DELETE FROM core WHERE user_id = $u;
                """, cancellationToken, ("$u", userId));
            await tx.CommitAsync(cancellationToken);
        }
        _vectors.Forget(userId);
        _postings.Changed(userId);
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
            // moved on) is neither deleted nor stripped of its terms.
            var due = new List<(long Seq, string User)>();
            await using (var tx = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken))
            {
                await using (var delete = Command(connection, """
                    DELETE FROM archive WHERE seq IN (SELECT seq FROM archive WHERE forget_at <= $now ORDER BY forget_at LIMIT $n)
                    RETURNING seq, user_id
                    """, ("$now", Ms(now)), ("$n", SweepBatch)))
                await using (var reader = await delete.ExecuteReaderAsync(cancellationToken))
                    while (await reader.ReadAsync(cancellationToken)) due.Add((reader.GetInt64(0), reader.GetString(1)));
                if (due.Count > 0)
                    await ExecuteAsync(connection, "DELETE FROM archive_terms WHERE rowid IN (SELECT value FROM json_each($seqs))",
                        cancellationToken, ("$seqs", JsonSerializer.Serialize(due.Select(d => d.Seq))));
                await tx.CommitAsync(cancellationToken);
            }
            scanned += due.Count;
            forgotten += due.Count;
            foreach (var group in due.GroupBy(d => d.User, StringComparer.Ordinal))
            {
                users.Add(group.Key);
                _vectors.Committed(group.Key, [], [.. group.Select(d => d.Seq)]);
                _postings.Changed(group.Key);
            }
            if (due.Count < SweepBatch) break;
        }
        return new(scanned, forgotten, users.Count, clock.ElapsedMilliseconds);
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
        _vectors.Committed(item.UserId, [(seq, vector)], []);
        return true;
    }

    private Task<VectorIndex> VectorsOfAsync(string userId, int dimensions, CancellationToken cancellationToken) =>
        _vectors.GetAsync(userId, dimensions, async (index, ct) =>
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
        }, cancellationToken);

    /// <summary>Bytes and users held by the in-memory vector indexes.</summary>
    public (long Bytes, int Users) VectorCacheUsage => (_vectors.Bytes, _vectors.Users);

    private const string ItemColumns = "seq, id, content, type, importance, created_at, last_accessed_at, access_count, metadata, forget_at, superseded_at, superseded_by";

    private static async Task<List<(long Seq, ArchiveItem Item)>> ReadItemsAsync(
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
                LastAccessedAt = FromMs(reader.GetInt64(6)),
                AccessCount = reader.GetInt32(7),
                Metadata = reader.IsDBNull(8) || reader.GetString(8) is "{}" ? new Dictionary<string, string>()
                    : JsonSerializer.Deserialize<Dictionary<string, string>>(reader.GetString(8), Json)!,
                ForgetAt = reader.IsDBNull(9) ? null : FromMs(reader.GetInt64(9)),
                SupersededAt = reader.IsDBNull(10) ? null : FromMs(reader.GetInt64(10)),
                SupersededBy = reader.IsDBNull(11) ? null : reader.GetString(11),
            }));
        }
        return items;
    }

    private static async Task<List<(long Seq, ConversationMessage Message)>> ReadMessagesAsync(
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

    /// <summary>The FTS5 text of some content: its terms, each prefixed with the owner's hash.</summary>
    private static string Indexed(string owner, string content) =>
        string.Join(' ', LexicalTerms.ForIndex(content).Select(t => owner + t));

    /// <summary>
    /// The rows holding the most of the query's terms (the engine's own measure of lexical
    /// relevance), newest first among equals. Each term reads at most <see cref="PostingsPerTerm"/>
    /// of its newest rows, so a very common term costs the same at 10k memories as at 1M; BM25
    /// ranking would score every match instead. Terms carry the owner's prefix: only this user's
    /// postings are read.
    /// </summary>
    private static string CoordinateMatch(string table, string userId, IReadOnlyList<string> terms, int limit, out (string, object?)[] parameters)
    {
        var owner = Owner(userId);
        var used = terms.Take(MaxQueryTerms).ToList();
        parameters = [.. used.Select((t, i) => ($"$t{i}", (object?)("\"" + owner + t.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"")))];
        var postings = string.Join(" UNION ALL ", used.Select((_, i) =>
            $"SELECT * FROM (SELECT rowid FROM {table} WHERE {table} MATCH $t{i} ORDER BY rowid DESC LIMIT {PostingsPerTerm})"));
        return $"SELECT rowid FROM ({postings}) GROUP BY rowid ORDER BY count(*) DESC, rowid DESC LIMIT {limit}";
    }

    /// <summary>An FTS5 string (a phrase, so no query syntax in a term can act) of one owner-prefixed term.</summary>
    private static string Phrase(string owner, string term) => "\"" + owner + term.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    /// <summary>A short hash of the user id, in characters unicode61 keeps inside a token.</summary>
    private static string Owner(string userId) =>
        "u" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(userId)).AsSpan(0, 6));

    private static string Token(long created, long seq) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes($"{created}:{seq}"));

    private static (long Created, long Seq) ParseToken(string? token)
    {
        if (token is null) return (long.MaxValue, long.MaxValue);
        try
        {
            var parts = Encoding.UTF8.GetString(Convert.FromBase64String(token)).Split(':');
            return (long.Parse(parts[0], CultureInfo.InvariantCulture), long.Parse(parts[1], CultureInfo.InvariantCulture));
        }
        catch (Exception e) when (e is FormatException or IndexOutOfRangeException or OverflowException)
        {
            throw new MemoryValidationException("continuationToken", "The continuation token is not one this API gave out.");
        }
    }

    private static long? Ms(DateTimeOffset? time) => time?.ToUnixTimeMilliseconds();

    private static DateTimeOffset FromMs(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);

    private SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        Execute(connection, "PRAGMA synchronous = NORMAL;");
        return connection;
    }

    private static SqliteCommand Command(SqliteConnection connection, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters) command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        return command;
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = Command(connection, sql);
        command.ExecuteNonQuery();
    }

    private static async Task<int> ExecuteAsync(SqliteConnection connection, string sql, CancellationToken cancellationToken, params (string, object?)[] parameters)
    {
        await using var command = Command(connection, sql, parameters);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
