// Resident memory of the vector indexes: many users with many embedded memories, each searched in
// turn, against the store's budget (Memory:Sqlite:VectorCacheMegabytes).
//   dotnet run -c Release --project bench/ServerlessMemory.Bench -- memory [--users 50] [--memories 10000] [--dimensions 1536] [--budget 640]
using System.Diagnostics;
using ServerlessMemory.Core;
using ServerlessMemory.Sqlite;

internal static class MemoryBench
{
    public static async Task RunAsync(string directory, string[] args)
    {
        int Int(string name, int fallback) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], out var v) ? v : fallback;
        var (users, memories, dimensions, budget) = (Int("--users", 50), Int("--memories", 10_000), Int("--dimensions", 1536), Int("--budget", SqliteMemoryStore.DefaultVectorCacheMegabytes));
        var store = new SqliteMemoryStore(Path.Combine(directory, "memory-bench.db"), budget);
        var embeddings = new RandomEmbeddings(dimensions);
        var now = DateTimeOffset.UtcNow;
        var load = Stopwatch.StartNew();
        for (var u = 0; u < users; u++)
            for (var start = 0; start < memories; start += 1_000)
                await store.CommitAsync($"user-{u}", new MemoryChangeSet
                {
                    ArchiveAdds = [.. Enumerable.Range(start, Math.Min(1_000, memories - start)).Select(i => new ArchiveItem
                    {
                        Id = $"m{i}", Content = $"memory {i} of user {u}", CreatedAt = now, EnteredAt = now, LastAccessedAt = now,
                        Embedding = embeddings.Vector($"{u}/{i}"), ForgetAt = now.AddYears(1),
                    })],
                });
        load.Stop();
        var baseline = Resident();
        Console.WriteLine($"memory {users} users x {memories:N0} memories x {dimensions}-d, budget {budget} MB; loaded in {load.Elapsed.TotalSeconds:F0} s, resident before searching {baseline:N0} MB (load {File.ReadAllText("/proc/loadavg").Split(' ')[0]})");

        var peak = 0L;
        var clock = Stopwatch.StartNew();
        var found = 0;
        for (var round = 0; round < 2; round++)
            for (var u = 0; u < users; u++)
            {
                var probe = embeddings.Vector($"{u}/{(u * 7 + round) % memories}");
                var top = (await store.FindArchiveCandidatesAsync($"user-{u}", [], probe, 1));
                if (top.Count == 1 && top[0].Item.Id == $"m{(u * 7 + round) % memories}") found++;
                peak = Math.Max(peak, Resident());
            }
        var (bytes, cached) = store.VectorCacheUsage;
        Console.WriteLine($"memory searched each user twice in turn in {clock.Elapsed.TotalSeconds:F0} s: {found} of {2 * users} probes found exactly; " +
                          $"peak resident {peak:N0} MB (budget + {peak - budget:N0} MB), index cache {bytes / 1024 / 1024:N0} MB for {cached} users");
    }

    private static long Resident()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        using var process = Process.GetCurrentProcess();
        return process.WorkingSet64 / 1024 / 1024;
    }
}
