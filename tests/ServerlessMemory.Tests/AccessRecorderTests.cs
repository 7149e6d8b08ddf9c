using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using ServerlessMemory.Core;
using ServerlessMemory.Sqlite;

namespace ServerlessMemory.Tests;

/// <summary>Searches note their accesses; the recorder writes them later, coalesced, one commit per user.</summary>
public sealed class AccessRecorderTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 8, 0, 0, TimeSpan.Zero);
    private readonly string _directory = Directory.CreateTempSubdirectory("sm-access-").FullName;
    private readonly CountingStore _store;
    private readonly Microsoft.Extensions.Time.Testing.FakeTimeProvider _time = new(T0);
    private readonly MemoryEngine _engine;

    public AccessRecorderTests()
    {
        _store = new CountingStore(new SqliteMemoryStore(Path.Combine(_directory, "memory.db")));
        _engine = new MemoryEngine(_store, Options.Create(new DecayOptions()), Options.Create(new MemoryLimits()),
            Options.Create(new SearchOptions()), _time, NullLogger<MemoryEngine>.Instance, null,
            Options.Create(new AccessOptions { FlushInterval = TimeSpan.FromSeconds(1) }));
    }

    [Fact]
    public async Task A_search_writes_nothing_and_a_flush_writes_every_access_of_a_user_in_one_commit()
    {
        await _engine.AddArchiveAsync("ana", new NewMemory("the falcon project ships in May", MemoryType.Preference, 0.8));
        await _engine.AddArchiveAsync("ana", new NewMemory("the falcon budget is small", MemoryType.Preference, 0.8));
        var commits = _store.Commits;

        for (var i = 0; i < 20; i++) Assert.Equal(2, (await _engine.SearchArchiveAsync("ana", "falcon", 5)).Count);
        Assert.Equal(commits, _store.Commits);

        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(2, await _engine.Accesses!.FlushAsync());

        Assert.Equal(commits + 1, _store.Commits);
        var stored = (await _store.ListArchiveAsync("ana", 10, null)).Items;
        Assert.All(stored, item => Assert.Equal(20, item.AccessCount));
        // Twenty reads move forgetting as twenty accesses do (the store keeps milliseconds).
        var expected = _engine.Decay.ForgetAt(stored[0])!.Value;
        Assert.InRange(stored[0].ForgetAt!.Value, expected.AddMilliseconds(-1), expected.AddMilliseconds(1));
        Assert.Equal(0, await _engine.Accesses.FlushAsync());
    }

    [Fact]
    public async Task The_sweep_writes_waiting_accesses_first_so_a_memory_just_read_is_not_forgotten()
    {
        await _engine.AddArchiveAsync("bo", new NewMemory("had a coffee this morning", MemoryType.Trivial, 0.1));
        _time.Advance(TimeSpan.FromHours(7));
        Assert.Single(await _engine.SearchArchiveAsync("bo", "coffee", 5));

        _time.Advance(TimeSpan.FromHours(1)); // past the unread memory's forgetting point, not past the read one's
        await _engine.SweepAsync();

        Assert.Single((await _store.ListArchiveAsync("bo", 10, null)).Items);
    }

    [Fact]
    public async Task The_hosted_flusher_writes_on_a_clean_shutdown()
    {
        await _engine.AddArchiveAsync("cy", new NewMemory("likes hiking in the Alps"));
        await _engine.SearchArchiveAsync("cy", "hiking", 5);
        var service = new ServerlessMemory.Api.AccessFlushService(_engine, NullLogger<ServerlessMemory.Api.AccessFlushService>.Instance);
        await service.StartAsync(CancellationToken.None);

        await service.StopAsync(CancellationToken.None);

        Assert.Equal(0, _engine.Accesses!.PendingCount);
        Assert.Equal(1, Assert.Single((await _store.ListArchiveAsync("cy", 10, null)).Items).AccessCount);
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    /// <summary>The SQLite store, counting its commits.</summary>
    private sealed class CountingStore(IMemoryStore inner) : DelegatingMemoryStore(inner)
    {
        private int _commits;
        public int Commits => _commits;
        public override Task<CommitResult> CommitAsync(string userId, MemoryChangeSet changes, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _commits);
            return base.CommitAsync(userId, changes, cancellationToken);
        }
    }
}
