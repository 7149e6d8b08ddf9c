using System.Collections.Concurrent;

namespace ServerlessMemory.Sqlite;

/// <summary>
/// The posting lists and memory counts that searches read lately, each kept until its user's
/// archive next changes: a user's searches mostly ask for the terms of their own vocabulary, and
/// reading a posting list from FTS5 is most of what a lexical search costs.
/// <para>
/// Each user has a version, moved on after every commit that adds or removes their memories. A
/// search takes the version before it reads and files what it read under it, so whatever a commit
/// did while the read ran, the entry is filed under a version that is already past, and never
/// served. Versions come from one counter and are never reset, so no later version can equal an
/// earlier one. Like the vector indexes, this assumes one process owns the file.
/// </para>
/// </summary>
internal sealed class PostingsCache(long capacity)
{
    private readonly ConcurrentDictionary<string, long> _versions = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string User, string Term), Postings> _postings = new();
    private long _counter;
    private long _held;

    /// <summary>The user's current version: take it before reading what is to be filed under it.</summary>
    public long VersionOf(string userId) => _versions.GetValueOrDefault(userId);

    /// <summary>After a commit that added or removed some of the user's memories.</summary>
    public void Changed(string userId) => _versions[userId] = Interlocked.Increment(ref _counter);

    /// <summary>The posting list of a term (the empty term: the user's memory count in <see cref="Postings.Frequency"/>) if it is current.</summary>
    public bool TryGet(string userId, string term, out Postings postings)
    {
        if (_postings.TryGetValue((userId, term), out var held) && held.Version == VersionOf(userId))
        {
            postings = held;
            return true;
        }
        postings = default!;
        return false;
    }

    public void Add(string userId, string term, Postings postings)
    {
        // A bound on the rows held, not an LRU: past it the cache starts again, which costs one read of each term.
        if (Interlocked.Add(ref _held, postings.Seqs.Length + 1) > capacity)
        {
            _postings.Clear();
            Interlocked.Exchange(ref _held, postings.Seqs.Length + 1);
        }
        _postings[(userId, term)] = postings;
    }
}

/// <summary>A term's newest rows, newest first, and how many rows hold it; read at <paramref name="Version"/>.</summary>
internal sealed record Postings(long Version, long[] Seqs, long Frequency);
