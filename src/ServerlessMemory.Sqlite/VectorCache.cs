namespace ServerlessMemory.Sqlite;

/// <summary>
/// The users' in-memory vector indexes: built from one read of the table on a user's first vector
/// search, kept current by every commit, and held within a byte budget by evicting the least
/// recently searched users (an evicted user is rebuilt on their next vector search).
/// <para>
/// The build and the commits interleave safely: the entry is registered before the table is read,
/// so a commit either lands before the read's snapshot (and is in it) or finds the entry; while it
/// is building, commits are journalled and replayed onto the built index before anyone sees it.
/// Adding a row twice or removing an absent one changes nothing, so the overlap is harmless.
/// </para>
/// </summary>
internal sealed class VectorCache(long budgetBytes)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private long _bytes;
    private long _clock;

    /// <summary>Bytes held by the built indexes.</summary>
    public long Bytes { get { lock (_lock) return _bytes; } }

    public int Users { get { lock (_lock) return _entries.Count; } }

    /// <summary>The user's index, building it from <paramref name="load"/> if it is not held.</summary>
    public async Task<VectorIndex> GetAsync(
        string userId, int dimensions, Func<VectorIndex, CancellationToken, Task> load, CancellationToken cancellationToken)
    {
        Entry entry;
        bool build;
        lock (_lock)
        {
            if (_entries.TryGetValue(userId, out var held) && held.Dimensions != dimensions) Drop(userId, held);
            build = !_entries.TryGetValue(userId, out entry!);
            if (build)
            {
                entry = new Entry(dimensions);
                _entries[userId] = entry;
            }
            entry.LastUsed = ++_clock;
        }
        if (!build) return await entry.Ready.Task.WaitAsync(cancellationToken);

        var index = new VectorIndex(dimensions);
        try
        {
            // The build is not cancelled by this caller: others may be waiting for it.
            await load(index, CancellationToken.None);
        }
        catch (Exception e)
        {
            lock (_lock)
                if (_entries.TryGetValue(userId, out var current) && ReferenceEquals(current, entry)) _entries.Remove(userId);
            entry.Ready.SetException(e);
            throw;
        }
        lock (_lock)
        {
            foreach (var change in entry.Journal!) Apply(index, change);
            entry.Journal = null;
            index.TrimExcess();
            entry.Index = index;
            entry.Bytes = index.Bytes;
            if (_entries.TryGetValue(userId, out var current) && ReferenceEquals(current, entry))
            {
                _bytes += entry.Bytes;
                EvictOver(budgetBytes, keep: userId);
            }
        }
        entry.Ready.SetResult(index);
        return index;
    }

    /// <summary>What a commit or a sweep changed for one user, after it committed.</summary>
    public void Committed(string userId, IReadOnlyList<(long Seq, ReadOnlyMemory<float> Vector)> added, IReadOnlyList<long> removed)
    {
        if (added.Count == 0 && removed.Count == 0) return;
        lock (_lock)
        {
            if (!_entries.TryGetValue(userId, out var entry)) return;
            if (entry.Index is not { } index)
            {
                // Removals first: a renewed row keeps its seq and comes back with its new vector.
                foreach (var seq in removed) entry.Journal!.Add(new(seq, null));
                foreach (var (seq, vector) in added) entry.Journal!.Add(new(seq, vector.ToArray()));
                return;
            }
            foreach (var seq in removed) index.Remove(seq);
            foreach (var (seq, vector) in added) index.Add(seq, vector.Span);
            _bytes += index.Bytes - entry.Bytes;
            entry.Bytes = index.Bytes;
            EvictOver(budgetBytes, keep: userId);
        }
    }

    /// <summary>Drops the user's index; a build under way finishes for its caller but is not kept.</summary>
    public void Forget(string userId)
    {
        lock (_lock)
            if (_entries.TryGetValue(userId, out var entry)) Drop(userId, entry);
    }

    private static void Apply(VectorIndex index, Change change)
    {
        if (change.Vector is { } vector) index.Add(change.Seq, vector);
        else index.Remove(change.Seq);
    }

    private void EvictOver(long budget, string keep)
    {
        while (_bytes > budget)
        {
            string? oldest = null;
            Entry? victim = null;
            foreach (var (user, entry) in _entries)
                if (entry.Index is not null && user != keep && (victim is null || entry.LastUsed < victim.LastUsed))
                    (oldest, victim) = (user, entry);
            if (victim is null) return; // only the one in use is left: it stays however large
            Drop(oldest!, victim);
        }
    }

    private void Drop(string userId, Entry entry)
    {
        _entries.Remove(userId);
        if (entry.Index is not null) _bytes -= entry.Bytes;
    }

    private sealed class Entry(int dimensions)
    {
        public int Dimensions { get; } = dimensions;
        public TaskCompletionSource<VectorIndex> Ready { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        /// <summary>Changes committed while the index was being built; null once it is built.</summary>
        public List<Change>? Journal { get; set; } = [];
        public VectorIndex? Index { get; set; }
        public long Bytes { get; set; }
        public long LastUsed { get; set; }
    }

    private sealed record Change(long Seq, float[]? Vector);
}
