using Microsoft.Data.Sqlite;
using ServerlessMemory.Core;

namespace ServerlessMemory.Sqlite;

/// <summary>
/// The embedded store: one SQLite file in WAL mode, an in-memory index of each user's archive terms
/// (<see cref="LexicalIndex"/>, for BM25 over every match) and FTS5 over the messages' terms, float32
/// embedding blobs searched through an in-memory <see cref="VectorIndex"/>, and one transaction
/// around every write of more than one row.
/// Split by job, as the Cosmos DB store is: the schema and its migration (<see cref="SqliteSchema"/>),
/// the lexical index and its postings (<see cref="SqliteLexicalIndex"/>), rows, times and continuation
/// tokens (<see cref="SqliteRows"/>), the reads (<c>SqliteMemoryStore.Queries.cs</c>) and the writes
/// (<c>SqliteMemoryStore.Writes.cs</c>).
/// </summary>
public sealed partial class SqliteMemoryStore : IMemoryStore
{
    /// <summary>The default budget of the in-memory vector indexes: about ten users of 10,000 memories of 1,536 floats.</summary>
    public const int DefaultVectorCacheMegabytes = 640;

    /// <summary>The default budget of the in-memory lexical indexes: about a million memories of 25 terms (measured: bench/README.md).</summary>
    public const int DefaultLexicalCacheMegabytes = 256;

    private readonly string _connectionString;
    private readonly UserIndexCache<VectorIndex, VectorChange> _vectors;
    private readonly SqliteLexicalIndex _lexical;

    public SqliteMemoryStore(string path, int vectorCacheMegabytes = DefaultVectorCacheMegabytes, int lexicalCacheMegabytes = DefaultLexicalCacheMegabytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(vectorCacheMegabytes);
        ArgumentOutOfRangeException.ThrowIfNegative(lexicalCacheMegabytes);
        _vectors = new(vectorCacheMegabytes * 1024L * 1024L, index => index.Bytes);
        _lexical = new SqliteLexicalIndex(lexicalCacheMegabytes * 1024L * 1024L);
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        _connectionString = new SqliteConnectionStringBuilder { DataSource = full, Pooling = true, DefaultTimeout = 30 }.ToString();
        using var connection = Open();
        SqliteSchema.Apply(connection);
    }

    public string Name => "sqlite";

    /// <summary>Bytes and users held by the in-memory vector indexes.</summary>
    public (long Bytes, int Users) VectorCacheUsage => (_vectors.Bytes, _vectors.Users);

    /// <summary>Bytes (about) and users held by the in-memory lexical indexes.</summary>
    public (long Bytes, int Users) LexicalCacheUsage => _lexical.Usage;

    private SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        SqliteCommands.Execute(connection, "PRAGMA synchronous = NORMAL;");
        return connection;
    }
}
