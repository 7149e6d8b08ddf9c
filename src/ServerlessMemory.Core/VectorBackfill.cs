using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace ServerlessMemory.Core;

/// <summary>How memories stored without a vector get one once the embedding model is back (section <c>Memory:Backfill</c>).</summary>
public sealed class VectorBackfillOptions
{
    /// <summary>How often the self-host runs the backfill (the Functions app runs it after each decay sweep); zero turns it off.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromMinutes(1);
    /// <summary>Memories read, embedded (in one embedding call) and written per batch.</summary>
    public int BatchSize { get; set; } = 32;
    /// <summary>A run stops starting batches after this long and leaves the rest to the next run.</summary>
    public TimeSpan Budget { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>An archive item stored without its vector: its owner, id and content, and the stored version it was read at (Cosmos DB's <c>_etag</c>; null where the store needs none).</summary>
public sealed record PendingVector(string UserId, string Id, string Content, string? Version = null);

/// <summary>What a backfill run did: items found without a vector, those given one, those changed meanwhile (left for a later run), and whether it stopped because the embedding model is failing.</summary>
public sealed record BackfillResult(int Found, int Filled, int Skipped, bool EmbeddingsDown, long DurationMs);

public sealed partial class MemoryEngine
{
    /// <summary>
    /// Gives a vector to the archive items stored without one during an embedding outage, in batches of
    /// <see cref="VectorBackfillOptions.BatchSize"/> (one embedding call each) until none is left or the
    /// budget is spent. It asks the model nothing while embeddings are paused after a failure, and a
    /// failed batch starts that pause, so a model still down costs one call per pause, not one per item.
    /// Each vector is written on its own and only over an item unchanged meanwhile (see
    /// <see cref="IMemoryStore.SetArchiveVectorAsync"/>): it never revives a deleted or forgotten
    /// memory, nor undoes a supersession or a renewal. Safe to stop and run again.
    /// </summary>
    public async Task<BackfillResult> BackfillVectorsAsync(CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        if (Embedder is null) return new(0, 0, 0, false, 0);
        var (found, filled, skipped, down) = (0, 0, 0, false);
        // What this run tried: an item it could not write comes back from the index, and is left to the next run.
        var tried = new HashSet<(string, string)>();
        while (clock.Elapsed < Backfill.Budget)
        {
            if (EmbeddingsPaused)
            {
                down = true;
                break;
            }
            var batch = (await Store.FindArchiveItemsWithoutVectorAsync(null, Now(), Math.Max(1, Backfill.BatchSize), cancellationToken))
                .Where(p => tried.Add((p.UserId, p.Id)))
                .ToList();
            if (batch.Count == 0) break;
            found += batch.Count;
            if (await TryEmbedAsync([.. batch.Select(p => p.Content)], cancellationToken) is not { } vectors)
            {
                down = true;
                break;
            }
            for (var i = 0; i < batch.Count; i++)
            {
                if (await Store.SetArchiveVectorAsync(batch[i], vectors[i], Now(), cancellationToken)) filled++;
                else skipped++;
            }
        }
        if (found > 0) LogBackfill(Logger, found, filled, skipped, down, clock.ElapsedMilliseconds);
        return new(found, filled, skipped, down, clock.ElapsedMilliseconds);
    }

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Vector backfill found {Found} memories without a vector, filled {Filled}, left {Skipped} changed meanwhile (embeddings down: {EmbeddingsDown}) in {DurationMs} ms")]
    private static partial void LogBackfill(ILogger logger, int found, int filled, int skipped, bool embeddingsDown, long durationMs);
}
