using System.Security.Cryptography;
using System.Text;
using Microsoft.Data.Sqlite;
using ServerlessMemory.Core;
using static ServerlessMemory.Sqlite.SqliteCommands;

namespace ServerlessMemory.Sqlite;

/// <summary>
/// The lexical indexes. The archive's is in memory: each user's <see cref="LexicalIndex"/> (terms with
/// their counts, and lengths, for BM25 over every match), built from the table on the user's first
/// search and kept current by every write, within a budget (<see cref="UserIndexCache{TIndex, TChange}"/>). The
/// conversation's is the FTS5 table <c>message_terms</c>, whose rowid is the message's seq and whose
/// text is its <see cref="LexicalTerms"/>, each prefixed with a hash of its owner so that a query
/// reads only one user's posting lists.
/// </summary>
internal sealed class SqliteLexicalIndex(long budgetBytes)
{
    public const string MessageTerms = "message_terms";

    /// <summary>A message search reads at most this many of each term's newest postings, for at most <see cref="LexicalTerms.MaxFilterTerms"/> terms.</summary>
    private const int PostingsPerTerm = 2_000;

    private readonly UserIndexCache<LexicalIndex, LexicalChange> _archive = new(budgetBytes, index => index.Bytes);

    /// <summary>Bytes and users held by the archive's in-memory indexes.</summary>
    public (long Bytes, int Users) Usage => (_archive.Bytes, _archive.Users);

    /// <summary>What a commit, delete or sweep changed of one user's archive, after it committed.</summary>
    public void Committed(string userId, IReadOnlyList<(string Id, string Content)> added, IReadOnlyList<string> removed) =>
        _archive.Committed(userId, new LexicalChange(added, removed));

    /// <summary>After the user was erased.</summary>
    public void Forget(string userId) => _archive.Forget(userId);

    /// <summary>
    /// The candidate contract: every archive memory of the user holding a query term, with term
    /// counts and lengths, from the user's in-memory index (built from <paramref name="open"/>'s
    /// connection on the first search: one statement, so one snapshot, taken after the cache
    /// registered the build).
    /// </summary>
    public async Task<LexicalMatches> MatchAsync(string userId, IReadOnlyList<string> terms, Func<SqliteConnection> open, CancellationToken cancellationToken)
    {
        var index = await _archive.GetAsync(userId, () => new LexicalIndex(), fit: null, async (index, ct) =>
        {
            await using var connection = open();
            await using var command = Command(connection, "SELECT id, content FROM archive WHERE user_id = $u ORDER BY seq", ("$u", userId));
            await using var reader = await command.ExecuteReaderAsync(ct);
            var batch = new List<(string, string)>(1_024);
            while (await reader.ReadAsync(ct))
            {
                batch.Add((reader.GetString(0), reader.GetString(1)));
                if (batch.Count < 1_024) continue;
                index.Add(batch);
                batch.Clear();
            }
            index.Add(batch);
        }, cancellationToken);
        return index.Match(terms);
    }

    /// <summary>Indexes a message's content under its seq, in the caller's transaction.</summary>
    public static Task AddMessageAsync(SqliteConnection connection, long seq, string owner, string content, CancellationToken cancellationToken) =>
        ExecuteAsync(connection, $"INSERT INTO {MessageTerms} (rowid, terms) VALUES ($seq, $terms)", cancellationToken, ("$seq", seq), ("$terms", Indexed(owner, content)));

    /// <summary>
    /// Terms written by another version of <see cref="LexicalTerms"/> (another stemmer) would not
    /// meet the queries of this one: index the messages again, once, when the file is opened. (The
    /// archive's index is counted from the content whenever it is built.)
    /// </summary>
    public static void Reindex(SqliteConnection connection)
    {
        using (var read = Command(connection, "PRAGMA user_version"))
            if ((long)read.ExecuteScalar()! == LexicalTerms.Version) return;
        using var tx = connection.BeginTransaction();
        Execute(connection, $"DELETE FROM {MessageTerms}");
        var rows = new List<(long Seq, string User, string Content)>();
        using (var select = Command(connection, "SELECT seq, user_id, content FROM message"))
        using (var reader = select.ExecuteReader())
            while (reader.Read()) rows.Add((reader.GetInt64(0), reader.GetString(1), reader.GetString(2)));
        using var insert = Command(connection, $"INSERT INTO {MessageTerms} (rowid, terms) VALUES ($seq, $terms)", ("$seq", 0L), ("$terms", ""));
        foreach (var (seq, user, content) in rows)
        {
            insert.Parameters["$seq"].Value = seq;
            insert.Parameters["$terms"].Value = Indexed(Owner(user), content);
            insert.ExecuteNonQuery();
        }
        Execute(connection, $"PRAGMA user_version = {LexicalTerms.Version}");
        tx.Commit();
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
        var used = LexicalTerms.FilterTerms(terms);
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
