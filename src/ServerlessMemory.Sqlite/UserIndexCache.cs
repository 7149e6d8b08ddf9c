using ServerlessMemory.Core;

namespace ServerlessMemory.Sqlite;

/// <summary>What a commit, delete or sweep changed of one user's rows, for that user's in-memory index.</summary>
internal interface IUserIndexChange<in TIndex>
{
    bool IsEmpty { get; }

    /// <summary>Removals first: a row removed and added again in one commit (a renewal) is held after it.</summary>
    void ApplyTo(TIndex index);
}

/// <summary>Memories added to and removed from a user's archive, for their <see cref="LexicalIndex"/>.</summary>
internal sealed record LexicalChange(IReadOnlyList<(string Id, string Content)> Added, IReadOnlyList<string> Removed) : IUserIndexChange<LexicalIndex>
{
    public bool IsEmpty => Added.Count == 0 && Removed.Count == 0;

    public void ApplyTo(LexicalIndex index)
    {
        index.Remove(Removed);
        index.Add(Added);
    }
}

/// <summary>Rows (by seq) whose vectors were added to or removed from a user's archive, for their <see cref="VectorIndex"/>.</summary>
internal sealed record VectorChange(IReadOnlyList<(long Seq, ReadOnlyMemory<float> Vector)> Added, IReadOnlyList<long> Removed) : IUserIndexChange<VectorIndex>
{
    public bool IsEmpty => Added.Count == 0 && Removed.Count == 0;

    public void ApplyTo(VectorIndex index)
    {
        foreach (var seq in Removed) index.Remove(seq);
        foreach (var (seq, vector) in Added) index.Add(seq, vector.Span);
    }
}

/// <summary>
/// The users' in-memory indexes of one kind (the archive's vectors, its terms): built from one read of
/// the user's rows on their first search, kept current by every commit, delete and sweep, and held
/// within a byte budget by evicting the least recently searched users (rebuilt on their next search).
/// <para>
/// Builds and commits interleave safely: the entry is registered before the table is read, so a
/// commit either lands before the read's snapshot (and is in it) or finds the entry; while it is
/// building, commits are journalled and replayed onto the built index before anyone searches it.
/// Adding a held row or removing an absent one changes nothing, so the overlap is harmless. This
/// assumes one process owns the file.
/// </para>
/// </summary>
/// <param name="budgetBytes">Past it, the least recently searched users' indexes are dropped (never the one in use).</param>
/// <param name="bytes">What an index holds in memory.</param>
internal sealed class UserIndexCache<TIndex, TChange>(long budgetBytes, Func<TIndex, long> bytes)
    where TIndex : class
    where TChange : IUserIndexChange<TIndex>
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private long _bytes;
    private long _clock;

    /// <summary>Bytes held by the built indexes.</summary>
    public long Bytes { get { lock (_lock) return _bytes; } }

    public int Users { get { lock (_lock) return _entries.Count; } }

    /// <summary>
    /// The user's index, made by <paramref name="create"/> and filled by <paramref name="load"/> if it is
    /// not held. A held index that does not <paramref name="fit"/> the caller (vectors of other
    /// dimensions) is dropped and built again.
    /// </summary>
    public async Task<TIndex> GetAsync(string userId, Func<TIndex> create, Func<TIndex, bool>? fit,
        Func<TIndex, CancellationToken, Task> load, CancellationToken cancellationToken)
    {
        Entry entry;
        bool build;
        lock (_lock)
        {
            if (fit is not null && _entries.TryGetValue(userId, out var held) && !fit(held.Index)) Drop(userId, held);
            build = !_entries.TryGetValue(userId, out entry!);
            if (build)
            {
                entry = new Entry(create());
                _entries[userId] = entry;
            }
            entry.LastUsed = ++_clock;
        }
        if (!build) return await entry.Ready.Task.WaitAsync(cancellationToken);

        var index = entry.Index;
        try
        {
            // Not cancelled by this caller: others may be waiting for it.
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
            foreach (var change in entry.Journal!) change.ApplyTo(index);
            entry.Journal = null;
            entry.Bytes = bytes(index);
            if (_entries.TryGetValue(userId, out var current) && ReferenceEquals(current, entry))
            {
                _bytes += entry.Bytes;
                EvictOver(keep: userId);
            }
        }
        entry.Ready.SetResult(index);
        return index;
    }

    /// <summary>What a commit, delete or sweep changed of one user's rows, after it committed.</summary>
    public void Committed(string userId, TChange change)
    {
        if (change.IsEmpty) return;
        lock (_lock)
        {
            if (!_entries.TryGetValue(userId, out var entry)) return;
            if (!entry.Built)
            {
                entry.Journal!.Add(change);
                return;
            }
            change.ApplyTo(entry.Index);
            var now = bytes(entry.Index);
            _bytes += now - entry.Bytes;
            entry.Bytes = now;
            EvictOver(keep: userId);
        }
    }

    /// <summary>Drops the user's index; a build under way finishes for its caller but is not kept.</summary>
    public void Forget(string userId)
    {
        lock (_lock)
            if (_entries.TryGetValue(userId, out var entry)) Drop(userId, entry);
    }

    private void EvictOver(string keep)
    {
        while (_bytes > budgetBytes)
        {
            string? oldest = null;
            Entry? victim = null;
            foreach (var (user, entry) in _entries)
                if (entry.Built && user != keep && (victim is null || entry.LastUsed < victim.LastUsed))
                    (oldest, victim) = (user, entry);
            if (victim is null) return; // only the one in use is left: it stays however large
            Drop(oldest!, victim);
        }
    }

    private void Drop(string userId, Entry entry)
    {
        _entries.Remove(userId);
        if (entry.Built) _bytes -= entry.Bytes;
    }

    private sealed class Entry(TIndex index)
    {
        public TIndex Index { get; } = index;
        public TaskCompletionSource<TIndex> Ready { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        /// <summary>Changes committed while the index was being built; null once it is built.</summary>
        public List<TChange>? Journal { get; set; } = [];
        public bool Built => Journal is null;
        public long Bytes { get; set; }
        public long LastUsed { get; set; }
    }
}
