using ServerlessMemory.Core;
using ServerlessMemory.Sqlite;

namespace ServerlessMemory.Tests.Stores;

/// <summary>
/// The SQLite store's in-memory vector index is built from a read of the table on a user's first
/// vector search while other requests keep writing: whatever was acknowledged must be in it, and
/// whatever was deleted or forgotten must not take a place in its nearest neighbours.
/// </summary>
public sealed class SqliteVectorIndexTests : IDisposable
{
    private const int Dimensions = 32;
    private const int Stored = 8_000;
    private const int Changes = 40;
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 8, 0, 0, TimeSpan.Zero);

    private readonly string _directory = Directory.CreateTempSubdirectory("sm-vectors-").FullName;

    [Fact]
    public async Task Every_memory_acknowledged_during_a_first_vector_search_is_found_by_vector_search_at_once()
    {
        var store = NewStore();
        var random = new Random(1);
        foreach (var user in Users)
        {
            await Seed(store, user, random);
            var added = Enumerable.Range(0, Changes).Select(i => Memory($"added {user} {i}", random)).ToList();

            await WhileTheFirstVectorSearchRuns(store, user, random, async () =>
            {
                foreach (var item in added) await store.CommitAsync(user, new() { ArchiveAdds = [item] });
            });

            foreach (var item in added)
            {
                var found = (await store.FindArchiveCandidatesAsync(user, [], item.Embedding, 1));
                Assert.Equal(item.Id, Assert.Single(found).Item.Id);
            }
        }
    }

    [Fact]
    public async Task A_memory_deleted_during_a_first_vector_search_leaves_the_index_and_its_neighbours_are_found()
    {
        var store = NewStore();
        var random = new Random(2);
        foreach (var user in Users)
        {
            var seeded = await Seed(store, user, random);
            var deleted = seeded.Take(Changes).ToList();

            await WhileTheFirstVectorSearchRuns(store, user, random, async () =>
            {
                foreach (var item in deleted) await store.CommitAsync(user, new() { ArchiveDeletes = [item.Id] });
            });

            foreach (var item in deleted)
            {
                var found = (await store.FindArchiveCandidatesAsync(user, [], item.Embedding, 1));
                Assert.NotEqual(item.Id, Assert.Single(found).Item.Id);
            }
        }
    }

    [Fact]
    public async Task A_memory_swept_during_a_first_vector_search_leaves_the_index_and_its_neighbours_are_found()
    {
        var store = NewStore();
        var random = new Random(3);
        foreach (var user in Users)
        {
            // The first memories fall due one minute apart, so each sweep forgets one while the index builds.
            var seeded = await Seed(store, user, random, forgetAt: i => i < Changes ? T0.AddMinutes(i) : T0.AddYears(50));
            var swept = seeded.Take(Changes).ToList();

            await WhileTheFirstVectorSearchRuns(store, user, random, async () =>
            {
                for (var i = 0; i < Changes; i++) await store.SweepAsync(T0.AddMinutes(i), TimeSpan.FromMinutes(1));
            });

            foreach (var item in swept)
            {
                var found = (await store.FindArchiveCandidatesAsync(user, [], item.Embedding, 1));
                Assert.NotEqual(item.Id, Assert.Single(found).Item.Id);
            }
        }
    }

    [Fact]
    public async Task Vector_indexes_stay_within_their_budget_and_an_evicted_user_is_still_found()
    {
        // Each user's index is 8,000 x 32 floats and their keys (about 1.3 MB): a 3 MB budget holds two of the four.
        var store = new SqliteMemoryStore(Path.Combine(_directory, "budget.db"), vectorCacheMegabytes: 3);
        var random = new Random(4);
        var users = Enumerable.Range(0, 4).Select(i => $"budget-user-{i}").ToList();
        var seeded = new Dictionary<string, List<ArchiveItem>>();
        foreach (var user in users) seeded[user] = await Seed(store, user, random);

        for (var round = 0; round < 2; round++)
            foreach (var user in users)
            {
                var probe = seeded[user][random.Next(Stored)];
                var found = (await store.FindArchiveCandidatesAsync(user, [], probe.Embedding, 1));
                Assert.Equal(probe.Id, Assert.Single(found).Item.Id);
                Assert.InRange(store.VectorCacheUsage.Bytes, 1, 3 * 1024 * 1024);
            }
        Assert.Equal(2, store.VectorCacheUsage.Users);
    }

    private static IEnumerable<string> Users => Enumerable.Range(0, 3).Select(i => $"vector-user-{i}");

    private SqliteMemoryStore NewStore() => new(Path.Combine(_directory, $"{Guid.NewGuid():N}.db"));

    /// <summary>
    /// Starts the changes, then searches by vector (the first search builds the index) until they
    /// are done. The changes run on a thread of their own: SQLite's calls complete synchronously,
    /// so neither loop yields, and on a busy thread pool the writer would wait for a thread.
    /// </summary>
    private static async Task WhileTheFirstVectorSearchRuns(SqliteMemoryStore store, string user, Random random, Func<Task> changes)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var writer = new Thread(() =>
        {
            try
            {
                changes().GetAwaiter().GetResult();
                done.SetResult();
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        }) { IsBackground = true };
        writer.Start();
        var searches = 0;
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while ((!done.Task.IsCompleted || searches == 0) && DateTime.UtcNow < deadline)
        {
            await store.FindArchiveCandidatesAsync(user, [], Vector(random), 5);
            searches++;
        }
        await done.Task.WaitAsync(TimeSpan.FromMinutes(1));
    }

    private static async Task<List<ArchiveItem>> Seed(SqliteMemoryStore store, string user, Random random, Func<int, DateTimeOffset>? forgetAt = null)
    {
        var items = Enumerable.Range(0, Stored)
            .Select(i => Memory($"stored {user} {i}", random) with { ForgetAt = forgetAt?.Invoke(i) ?? T0.AddYears(50) })
            .ToList();
        await store.CommitAsync(user, new() { ArchiveAdds = items });
        return items;
    }

    private static ArchiveItem Memory(string content, Random random) => new()
    {
        Id = LexicalTerms.ContentHash(content),
        Content = content,
        CreatedAt = T0.AddDays(-1),
        EnteredAt = T0.AddDays(-1),
        LastAccessedAt = T0.AddDays(-1),
        ForgetAt = T0.AddYears(50),
        Embedding = Vector(random),
    };

    private static float[] Vector(Random random) =>
        [.. Enumerable.Range(0, Dimensions).Select(_ => (float)(random.NextDouble() - 0.5))];

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
