using ServerlessMemory.Core;
using ServerlessMemory.Sqlite;

namespace ServerlessMemory.Tests.Stores;

public sealed class SqliteStoreTests : MemoryStoreContract, IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("sm-store-").FullName;
    private readonly SqliteMemoryStore _store;

    public SqliteStoreTests() => _store = new SqliteMemoryStore(Path.Combine(_directory, "memory.db"));

    protected override IMemoryStore Store => _store;

    [Fact]
    public async Task The_file_is_in_wal_mode_and_survives_a_restart()
    {
        var user = NewUser();
        await _store.CommitAsync(user, new() { ArchiveAdds = [Item("kept across restarts")] });

        var reopened = new SqliteMemoryStore(Path.Combine(_directory, "memory.db"));

        Assert.Single((await reopened.ListArchiveAsync(user, 10, null)).Items);
        Assert.True(File.Exists(Path.Combine(_directory, "memory.db-wal")));
    }

    [Fact]
    public async Task A_file_of_an_earlier_build_is_migrated_and_its_memories_can_be_superseded()
    {
        var path = Path.Combine(_directory, "old.db");
        using (var old = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path}"))
        {
            old.Open();
            using var create = old.CreateCommand();
            create.CommandText = """
                CREATE TABLE archive (seq INTEGER PRIMARY KEY, user_id TEXT NOT NULL, id TEXT NOT NULL, content TEXT NOT NULL, type INTEGER NOT NULL,
                    importance REAL NOT NULL, created_at INTEGER NOT NULL, last_accessed_at INTEGER NOT NULL, access_count INTEGER NOT NULL,
                    metadata TEXT, embedding BLOB, forget_at INTEGER, UNIQUE (user_id, id));
                INSERT INTO archive (user_id, id, content, type, importance, created_at, last_accessed_at, access_count, metadata, forget_at)
                VALUES ('old-user', 'old-id', 'lives in Beijing', 2, 0.5, 0, 0, 0, '{}', NULL);
                """;
            create.ExecuteNonQuery();
        }
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();

        var store = new SqliteMemoryStore(path);
        var before = await store.GetArchiveItemAsync("old-user", "old-id");
        await store.CommitAsync("old-user", new() { ArchiveSupersessions = [new("old-id", T0, "new-id")] });

        Assert.Equal(("lives in Beijing", (DateTimeOffset?)null), (before!.Content, before.SupersededAt));
        Assert.Equal("new-id", (await store.GetArchiveItemAsync("old-user", "old-id"))!.SupersededBy);
        _ = new SqliteMemoryStore(path); // opening a migrated file again changes nothing
    }

    [Fact]
    public async Task A_file_of_an_earlier_build_gets_entered_at_from_created_at()
    {
        var path = Path.Combine(_directory, "before-entered.db");
        var created = T0.AddDays(-2);
        using (var old = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path}"))
        {
            old.Open();
            using var create = old.CreateCommand();
            create.CommandText = $$"""
                CREATE TABLE archive (seq INTEGER PRIMARY KEY, user_id TEXT NOT NULL, id TEXT NOT NULL, content TEXT NOT NULL, type INTEGER NOT NULL,
                    importance REAL NOT NULL, created_at INTEGER NOT NULL, last_accessed_at INTEGER NOT NULL, access_count INTEGER NOT NULL,
                    metadata TEXT, embedding BLOB, forget_at INTEGER, superseded_at INTEGER, superseded_by TEXT, UNIQUE (user_id, id));
                INSERT INTO archive (user_id, id, content, type, importance, created_at, last_accessed_at, access_count, metadata, forget_at)
                VALUES ('old-user', 'old-id', 'lives in Beijing', 2, 0.5, {{created.ToUnixTimeMilliseconds()}}, {{created.ToUnixTimeMilliseconds()}}, 0, '{}', NULL);
                """;
            create.ExecuteNonQuery();
        }
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();

        var item = await new SqliteMemoryStore(path).GetArchiveItemAsync("old-user", "old-id");
        var again = await new SqliteMemoryStore(path).GetArchiveItemAsync("old-user", "old-id");

        Assert.Equal((created, created), (item!.CreatedAt, item.EnteredAt));
        Assert.Equal(created, again!.EnteredAt);
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
