namespace ServerlessMemory.Core;

/// <summary>
/// One user's archive as BM25 reads it, in memory: for each term the memories holding it with the
/// term's count in each, and each memory's length in terms. A search reads the posting lists of its
/// own terms only, however many memories there are, so BM25 is exhaustive (every memory holding a
/// query term is scored) at a cost that grows with those lists, not with the archive.
/// <para>
/// Searches share a read lock; adds and removes take the write lock. A memory's postings go at the
/// end of each list (ordinals only grow); a removed memory is marked and skipped, and the lists are
/// compacted once a quarter of their memories are gone.
/// </para>
/// </summary>
public sealed class LexicalIndex
{
    private const int MaxFrequency = byte.MaxValue;

    private readonly ReaderWriterLockSlim _lock = new();
    private readonly Dictionary<string, int> _ordinals = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TermList> _terms = new(StringComparer.Ordinal);
    private string?[] _ids = new string?[64];
    private int[] _lengths = new int[64];
    private int _count;
    private long _totalLength;
    private long _postings;

    [ThreadStatic] private static int[]? t_local;

    /// <summary>Memories held.</summary>
    public int Documents
    {
        get
        {
            _lock.EnterReadLock();
            try { return _ordinals.Count; }
            finally { _lock.ExitReadLock(); }
        }
    }

    /// <summary>What the index holds in memory, about: postings (5 bytes each), memories (id and length) and terms.</summary>
    public long Bytes
    {
        get
        {
            _lock.EnterReadLock();
            try { return _postings * 5 + _ids.Length * (8L + 4) + _ordinals.Count * 90L + _terms.Count * 80L; }
            finally { _lock.ExitReadLock(); }
        }
    }

    /// <summary>Adds memories (id and content); one already held is left as it is.</summary>
    public void Add(IEnumerable<(string Id, string Content)> memories)
    {
        ArgumentNullException.ThrowIfNull(memories);
        // Counted outside the lock: tokenising is most of what an add costs.
        var counted = memories.Select(m => (m.Id, Counts: LexicalTerms.Counts(m.Content))).ToList();
        if (counted.Count == 0) return;
        _lock.EnterWriteLock();
        try
        {
            foreach (var (id, counts) in counted) AddLocked(id, counts);
        }
        finally { _lock.ExitWriteLock(); }
    }

    public void Add(string id, string content) => Add([(id, content)]);

    /// <summary>Removes memories by id; an id not held changes nothing.</summary>
    public void Remove(IEnumerable<string> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        _lock.EnterWriteLock();
        try
        {
            foreach (var id in ids)
            {
                if (!_ordinals.Remove(id, out var ordinal)) continue;
                _ids[ordinal] = null;
                _totalLength -= _lengths[ordinal];
            }
            if (_count - _ordinals.Count > Math.Max(64, _count / 4)) Compact();
        }
        finally { _lock.ExitWriteLock(); }
    }

    /// <summary>
    /// The postings of the query's terms (<see cref="LexicalMatches"/>): every memory holding at least
    /// one of them, with each term's count in it and its length, and the statistics BM25 weighs them by.
    /// </summary>
    public LexicalMatches Match(IReadOnlyList<string> terms)
    {
        ArgumentNullException.ThrowIfNull(terms);
        _lock.EnterReadLock();
        try
        {
            // Index ordinal → 1 + the memory's place in the answer; reset for the entries used before returning.
            var local = t_local is { } held && held.Length >= _count ? held : t_local = new int[Math.Max(_count, 1_024)];
            var ids = new List<string>();
            var touched = new List<int>();
            var lengths = new List<int>();
            var postings = new List<TermPostings>(terms.Count);
            foreach (var term in terms)
            {
                if (!_terms.TryGetValue(term, out var list)) continue;
                var documents = new int[list.Count];
                var frequencies = new int[list.Count];
                var n = 0;
                for (var j = 0; j < list.Count; j++)
                {
                    var ordinal = list.Documents[j];
                    if (_ids[ordinal] is not { } id) continue;
                    var at = local[ordinal] - 1;
                    if (at < 0)
                    {
                        at = ids.Count;
                        local[ordinal] = at + 1;
                        ids.Add(id);
                        touched.Add(ordinal);
                        lengths.Add(_lengths[ordinal]);
                    }
                    documents[n] = at;
                    frequencies[n++] = list.Frequencies[j];
                }
                if (n == 0) continue;
                postings.Add(n == list.Count ? new(term, n, documents, frequencies) : new(term, n, documents[..n], frequencies[..n]));
            }
            foreach (var ordinal in touched) local[ordinal] = 0;
            var documentsHeld = _ordinals.Count;
            return new(documentsHeld, documentsHeld == 0 ? 0 : (double)_totalLength / documentsHeld, ids, [.. lengths], postings, Complete: true);
        }
        finally { _lock.ExitReadLock(); }
    }

    private void AddLocked(string id, TermCounts counts)
    {
        if (_ordinals.ContainsKey(id)) return;
        if (_count == _ids.Length)
        {
            Array.Resize(ref _ids, _count * 2);
            Array.Resize(ref _lengths, _count * 2);
        }
        var ordinal = _count++;
        _ids[ordinal] = id;
        _lengths[ordinal] = counts.Length;
        _ordinals[id] = ordinal;
        _totalLength += counts.Length;
        foreach (var (term, frequency) in counts.Terms)
        {
            if (!_terms.TryGetValue(term, out var list)) _terms[term] = list = new TermList();
            list.Append(ordinal, (byte)Math.Min(frequency, MaxFrequency));
            _postings++;
        }
    }

    /// <summary>Renumbers the memories held and drops the postings of removed ones.</summary>
    private void Compact()
    {
        var renumber = new int[_count];
        var next = 0;
        for (var i = 0; i < _count; i++)
        {
            if (_ids[i] is not { } id)
            {
                renumber[i] = -1;
                continue;
            }
            renumber[i] = next;
            _ids[next] = id;
            _lengths[next] = _lengths[i];
            _ordinals[id] = next++;
        }
        Array.Clear(_ids, next, _count - next);
        _count = next;
        _postings = 0;
        var empty = new List<string>();
        foreach (var (term, list) in _terms)
        {
            list.Renumber(renumber);
            if (list.Count == 0) empty.Add(term);
            _postings += list.Count;
        }
        foreach (var term in empty) _terms.Remove(term);
    }

    private sealed class TermList
    {
        public int[] Documents = new int[2];
        public byte[] Frequencies = new byte[2];
        public int Count;

        public void Append(int ordinal, byte frequency)
        {
            if (Count == Documents.Length)
            {
                Array.Resize(ref Documents, Count * 2);
                Array.Resize(ref Frequencies, Count * 2);
            }
            Documents[Count] = ordinal;
            Frequencies[Count++] = frequency;
        }

        public void Renumber(int[] renumber)
        {
            var n = 0;
            for (var j = 0; j < Count; j++)
            {
                var to = renumber[Documents[j]];
                if (to < 0) continue;
                Documents[n] = to;
                Frequencies[n++] = Frequencies[j];
            }
            Count = n;
            if (Documents.Length > 2 * Math.Max(2, n))
            {
                Array.Resize(ref Documents, Math.Max(2, n));
                Array.Resize(ref Frequencies, Math.Max(2, n));
            }
        }
    }
}
