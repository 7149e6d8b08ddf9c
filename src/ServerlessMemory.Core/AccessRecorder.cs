using Microsoft.Extensions.Logging;

namespace ServerlessMemory.Core;

/// <summary>How search counts accesses (section <c>Memory:Accesses</c>).</summary>
public sealed class AccessOptions
{
    /// <summary>
    /// Accesses are kept in memory and written at most this long after they happen, one write per
    /// user for all of them; zero writes each search's accesses with the search, as one transaction.
    /// </summary>
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromSeconds(1);
    /// <summary>Past this many memories waiting, the recorder flushes at once.</summary>
    public int MaxPending { get; set; } = 10_000;
}

/// <summary>
/// Counts the accesses of searches off their path: a search only notes what it returned, and
/// <see cref="FlushAsync"/> (every <see cref="AccessOptions.FlushInterval"/>, before a sweep, and on
/// a clean shutdown) writes them, every access of a user in one commit, however many searches
/// read the same memory meanwhile. A crash loses at most the accesses of the last interval:
/// counts and bonuses then run a little low, nothing else is touched.
/// </summary>
public sealed class AccessRecorder(IMemoryStore store, DecayModel decay, AccessOptions options, ILogger logger)
{
    private readonly Lock _lock = new();
    private readonly SemaphoreSlim _flushing = new(1, 1);
    private Dictionary<(string User, string Id), Pending> _pending = [];
    private TaskCompletionSource _full = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public AccessOptions Options { get; } = options;

    /// <summary>Memories with accesses not written yet.</summary>
    public int PendingCount { get { lock (_lock) return _pending.Count; } }

    /// <summary>Completes when <see cref="AccessOptions.MaxPending"/> memories wait: the flusher should not wait for its interval.</summary>
    public Task Full { get { lock (_lock) return _full.Task; } }

    /// <summary>Notes <paramref name="count"/> accesses, the last at <paramref name="at"/>, of <paramref name="item"/> as the search read it from the store.</summary>
    public void Record(string userId, ArchiveItem item, DateTimeOffset at, int count = 1)
    {
        ArgumentNullException.ThrowIfNull(item);
        lock (_lock)
        {
            var key = (userId, item.Id);
            _pending[key] = _pending.TryGetValue(key, out var p)
                ? p with { Count = p.Count + count, At = p.At > at ? p.At : at }
                : new Pending(item, count, at);
            if (_pending.Count >= Options.MaxPending) _full.TrySetResult();
        }
    }

    /// <summary>Writes what waits: one commit per user. A user whose commit fails keeps its accesses for the next flush.</summary>
    public async Task<int> FlushAsync(CancellationToken cancellationToken = default)
    {
        await _flushing.WaitAsync(cancellationToken);
        try
        {
            Dictionary<(string User, string Id), Pending> taken;
            lock (_lock)
            {
                if (_pending.Count == 0) return 0;
                taken = _pending;
                _pending = [];
                if (_full.Task.IsCompleted) _full = new(TaskCreationOptions.RunContinuationsAsynchronously);
            }
            var written = 0;
            foreach (var user in taken.GroupBy(p => p.Key.User, StringComparer.Ordinal))
            {
                var accesses = user.Select(p => decay.Access(p.Value.Item, p.Value.Count, p.Value.At)).ToList();
                try
                {
                    await store.CommitAsync(user.Key, new MemoryChangeSet { Accesses = accesses }, cancellationToken);
                    written += accesses.Count;
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    logger.LogWarning(e, "Writing {Count} accesses of {UserId} failed; they wait for the next flush", accesses.Count, user.Key);
                    lock (_lock)
                        foreach (var (key, p) in user)
                            _pending[key] = _pending.TryGetValue(key, out var later)
                                ? later with { Count = later.Count + p.Count, At = later.At > p.At ? later.At : p.At, Item = p.Item }
                                : p;
                }
            }
            if (written > 0) logger.LogDebug("Wrote {Count} coalesced accesses", written);
            return written;
        }
        finally
        {
            _flushing.Release();
        }
    }

    private sealed record Pending(ArchiveItem Item, int Count, DateTimeOffset At);
}
