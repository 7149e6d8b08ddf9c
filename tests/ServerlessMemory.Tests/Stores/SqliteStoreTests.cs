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

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
