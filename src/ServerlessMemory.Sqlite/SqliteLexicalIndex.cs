using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using ServerlessMemory.Core;
using static ServerlessMemory.Sqlite.SqliteCommands;

namespace ServerlessMemory.Sqlite;

/// <summary>
/// The lexical index: the FTS5 tables <c>archive_terms</c> and <c>message_terms</c>, whose rowid is
/// the row's seq and whose text is the row's <see cref="LexicalTerms"/>, each prefixed with a hash of
/// its owner so that a query reads only one user's posting lists; and the lexical candidates read
/// from them, with the posting lists searches read lately held in a <see cref="PostingsCache"/>.
/// </summary>
internal sealed class SqliteLexicalIndex
{
    public const string ArchiveTerms = "archive_terms";
    public const string MessageTerms = "message_terms";

    private const int PostingsPerTerm = 2_000;
    private const int MaxQueryTerms = 32;
    private const int FrequencyCap = 20_000;

    private readonly PostingsCache _postings = new(capacity: 4_000_000); // rows: 32 MB

    /// <summary>After a commit that added or removed some of the user's memories: what was read of them before is not served.</summary>
    public void Changed(string userId) => _postings.Changed(userId);

    /// <summary>Indexes a row's content under its seq, in the caller's transaction.</summary>
    public static Task AddAsync(SqliteConnection connection, string table, long seq, string owner, string content, CancellationToken cancellationToken) =>
        ExecuteAsync(connection, $"INSERT INTO {table} (rowid, terms) VALUES ($seq, $terms)", cancellationToken, ("$seq", seq), ("$terms", Indexed(owner, content)));

    /// <summary>Removes rows' terms, in the caller's transaction.</summary>
    public static Task RemoveAsync(SqliteConnection connection, string table, IEnumerable<long> seqs, CancellationToken cancellationToken) =>
        ExecuteAsync(connection, $"DELETE FROM {table} WHERE rowid IN (SELECT value FROM json_each($seqs))",
            cancellationToken, ("$seqs", JsonSerializer.Serialize(seqs)));

    /// <summary>
    /// Terms written by another version of <see cref="LexicalTerms"/> (another stemmer) would not
    /// meet the queries of this one: index them again, once, when the file is opened.
    /// </summary>
    public static void Reindex(SqliteConnection connection)
    {
        using (var read = Command(connection, "PRAGMA user_version"))
            if ((long)read.ExecuteScalar()! == LexicalTerms.Version) return;
        using var tx = connection.BeginTransaction();
        foreach (var (table, terms) in new[] { ("archive", ArchiveTerms), ("message", MessageTerms) })
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

    /// <summary>
    /// The rows with the highest sum of their query terms' BM25 weights (rare terms first), newest
    /// first among equals, and the statistics the weights come from: the user's memory count and
    /// each term's document frequency. Each term's newest <see cref="PostingsPerTerm"/> postings are
    /// read once, in one statement, and summed here (SQLite's GROUP BY and sort of the same rows cost
    /// twice as much); only a term with more postings than that has its frequency counted apart, up
    /// to <see cref="FrequencyCap"/> (past it a term is common whatever its exact count), so a very
    /// common term costs the same at 10k memories as at 1M.
    /// </summary>
    public async Task<(List<long> Seqs, TermStatistics Statistics)> CandidatesAsync(
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
                $"SELECT {i}, rowid FROM (SELECT rowid FROM {ArchiveTerms} WHERE {ArchiveTerms} MATCH $t{i} ORDER BY rowid DESC LIMIT {PostingsPerTerm})"));
            await using var command = Command(connection, union, phrases);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (reader.Read()) read[reader.GetInt32(0)].Add(reader.GetInt64(1));
        }

        var common = missing.Where(i => read[i].Count >= PostingsPerTerm).ToList();
        var counts = string.Concat(common.Select(i => $", (SELECT count(*) FROM (SELECT 1 FROM {ArchiveTerms} WHERE {ArchiveTerms} MATCH $t{i} LIMIT {FrequencyCap}))"));
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

    /// <summary>
    /// The conversation's lexical search: the rows holding the most of the query's terms, newest
    /// first among equals. Each term reads at most <see cref="PostingsPerTerm"/> of its newest rows,
    /// so a very common term costs the same at 10k messages as at 1M. Terms carry the owner's prefix:
    /// only this user's postings are read.
    /// </summary>
    public static string CoordinateMatch(string table, string userId, IReadOnlyList<string> terms, int limit, out (string, object?)[] parameters)
    {
        var owner = Owner(userId);
        var used = terms.Take(MaxQueryTerms).ToList();
        parameters = [.. used.Select((t, i) => ($"$t{i}", (object?)Phrase(owner, t)))];
        var postings = string.Join(" UNION ALL ", used.Select((_, i) =>
            $"SELECT * FROM (SELECT rowid FROM {table} WHERE {table} MATCH $t{i} ORDER BY rowid DESC LIMIT {PostingsPerTerm})"));
        return $"SELECT rowid FROM ({postings}) GROUP BY rowid ORDER BY count(*) DESC, rowid DESC LIMIT {limit}";
    }

    /// <summary>An FTS5 string (a phrase, so no query syntax in a term can act) of one owner-prefixed term.</summary>
    private static string Phrase(string owner, string term) => "\"" + owner + term.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    /// <summary>A short hash of the user id, in characters unicode61 keeps inside a token.</summary>
    public static string Owner(string userId) =>
        "u" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(userId)).AsSpan(0, 6));

    /// <summary>The FTS5 text of some content: its terms, each prefixed with the owner's hash.</summary>
    public static string Indexed(string owner, string content) =>
        string.Join(' ', LexicalTerms.ForIndex(content).Select(t => owner + t));
}

/// <summary>
/// The posting lists and memory counts that searches read lately, each kept until its user's
/// archive next changes: a user's searches mostly ask for the terms of their own vocabulary, and
/// reading a posting list from FTS5 is most of what a lexical search costs.
/// <para>
/// Each user has a version, moved on after every commit that adds or removes their memories. A
/// search takes the version before it reads and files what it read under it, so whatever a commit
/// did while the read ran, the entry is filed under a version that is already past, and never
/// served. Versions come from one counter and are never reset, so no later version can equal an
/// earlier one. Like the vector indexes, this assumes one process owns the file.
/// </para>
/// </summary>
internal sealed class PostingsCache(long capacity)
{
    private readonly ConcurrentDictionary<string, long> _versions = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string User, string Term), Postings> _postings = new();
    private long _counter;
    private long _held;

    /// <summary>The user's current version: take it before reading what is to be filed under it.</summary>
    public long VersionOf(string userId) => _versions.GetValueOrDefault(userId);

    /// <summary>After a commit that added or removed some of the user's memories.</summary>
    public void Changed(string userId) => _versions[userId] = Interlocked.Increment(ref _counter);

    /// <summary>The posting list of a term (the empty term: the user's memory count in <see cref="Postings.Frequency"/>) if it is current.</summary>
    public bool TryGet(string userId, string term, out Postings postings)
    {
        if (_postings.TryGetValue((userId, term), out var held) && held.Version == VersionOf(userId))
        {
            postings = held;
            return true;
        }
        postings = default!;
        return false;
    }

    public void Add(string userId, string term, Postings postings)
    {
        // A bound on the rows held, not an LRU: past it the cache starts again, which costs one read of each term.
        if (Interlocked.Add(ref _held, postings.Seqs.Length + 1) > capacity)
        {
            _postings.Clear();
            Interlocked.Exchange(ref _held, postings.Seqs.Length + 1);
        }
        _postings[(userId, term)] = postings;
    }
}

/// <summary>A term's newest rows, newest first, and how many rows hold it; read at <paramref name="Version"/>.</summary>
internal sealed record Postings(long Version, long[] Seqs, long Frequency);
