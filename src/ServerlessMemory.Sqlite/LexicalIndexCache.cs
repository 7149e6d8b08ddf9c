using ServerlessMemory.Core;

namespace ServerlessMemory.Sqlite;

/// <summary>
/// The users' in-memory <see cref="LexicalIndex"/>es: built from one read of the user's archive on
/// their first search, kept current by every commit, delete and sweep, and held within a byte budget
/// by evicting the least recently searched users (rebuilt on their next search).
/// <para>
/// Builds and commits interleave as in <see cref="VectorCache"/>: the entry is registered before the
/// table is read, so a commit either lands before the read's snapshot (and is in it) or finds the
/// entry; while it is building, commits are journalled and replayed onto the built index before
/// anyone searches it. Adding a held id or removing an absent one changes nothing, so the overlap is
/// harmless. Like the vector indexes, this assumes one process owns the file.
/// </para>
/// </summary>
internal sealed class LexicalIndexCache(long budgetBytes)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private long _bytes;
    private long _clock;

    /// <summary>Bytes held by the built indexes, about.</summary>
    public long Bytes { get { lock (_lock) return _bytes; } }

    public int Users { get { lock (_lock) return _entries.Count; } }

    /// <summary>The user's index, building it from <paramref name="load"/> (every memory's id and content) if it is not held.</summary>
    public async Task<LexicalIndex> GetAsync(
        string userId, Func<LexicalIndex, CancellationToken, Task> load, CancellationToken cancellationToken)
    {
        Entry entry;
        bool build;
        lock (_lock)
        {
            build = !_entries.TryGetValue(userId, out entry!);
            if (build)
            {
                entry = new Entry();
                _entries[userId] = entry;
            }
            entry.LastUsed = ++_clock;
        }
        if (!build) return await entry.Ready.Task.WaitAsync(cancellationToken);

        var index = new LexicalIndex();
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
            foreach (var change in entry.Journal!) Apply(index, change);
            entry.Journal = null;
            entry.Index = index;
            entry.Bytes = index.Bytes;
            if (_entries.TryGetValue(userId, out var current) && ReferenceEquals(current, entry))
            {
                _bytes += entry.Bytes;
                EvictOver(keep: userId);
            }
        }
        entry.Ready.SetResult(index);
        return index;
    }

    /// <summary>What a commit, delete or sweep changed of one user's archive, after it committed.</summary>
    public void Committed(string userId, IReadOnlyList<(string Id, string Content)> added, IReadOnlyList<string> removed)
    {
        if (added.Count == 0 && removed.Count == 0) return;
        lock (_lock)
        {
            if (!_entries.TryGetValue(userId, out var entry)) return;
            var change = new Change(added, removed);
            if (entry.Index is not { } index)
            {
                entry.Journal!.Add(change);
                return;
            }
            Apply(index, change);
            _bytes += index.Bytes - entry.Bytes;
            entry.Bytes = index.Bytes;
            EvictOver(keep: userId);
        }
    }

    /// <summary>Drops the user's index; a build under way finishes for its caller but is not kept.</summary>
    public void Forget(string userId)
    {
        lock (_lock)
            if (_entries.TryGetValue(userId, out var entry)) Drop(userId, entry);
    }

    private static void Apply(LexicalIndex index, Change change)
    {
        // Removals first: a memory removed and added again in one commit (a renewal) is held after it.
        index.Remove(change.Removed);
        index.Add(change.Added);
    }

    private void EvictOver(string keep)
    {
        while (_bytes > budgetBytes)
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

    private sealed class Entry
    {
        public TaskCompletionSource<LexicalIndex> Ready { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        /// <summary>Changes committed while the index was being built; null once it is built.</summary>
        public List<Change>? Journal { get; set; } = [];
        public LexicalIndex? Index { get; set; }
        public long Bytes { get; set; }
        public long LastUsed { get; set; }
    }

    private sealed record Change(IReadOnlyList<(string Id, string Content)> Added, IReadOnlyList<string> Removed);
}
