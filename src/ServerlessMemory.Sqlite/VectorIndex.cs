using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ServerlessMemory.Sqlite;

/// <summary>
/// One user's embeddings, normalised and held contiguously in memory so that a search is one pass
/// of dot products instead of reading every blob from disk. Searches share a read lock; a commit's
/// adds and removes take the write lock for as long as a copy of one row.
/// </summary>
internal sealed class VectorIndex(int dimensions)
{
    private readonly ReaderWriterLockSlim _lock = new();
    private float[] _vectors = new float[dimensions * 64];
    private long[] _keys = new long[64];
    private readonly Dictionary<long, int> _rows = [];

    public int Dimensions { get; } = dimensions;
    public int Count { get; private set; }

    /// <summary>What the index holds in memory: its arrays and the key map.</summary>
    public long Bytes => (long)_vectors.Length * sizeof(float) + (long)_keys.Length * sizeof(long) + _rows.Count * 24L;

    public void Add(long key, ReadOnlySpan<float> vector)
    {
        if (vector.Length != Dimensions) return;
        _lock.EnterWriteLock();
        try
        {
            if (_rows.ContainsKey(key)) return;
            if (Count == _keys.Length)
            {
                Array.Resize(ref _keys, Count * 2);
                Array.Resize(ref _vectors, Count * 2 * Dimensions);
            }
            var row = _vectors.AsSpan(Count * Dimensions, Dimensions);
            vector.CopyTo(row);
            var norm = TensorPrimitives.Norm(row);
            if (norm > 0) TensorPrimitives.Divide(row, norm, row);
            _keys[Count] = key;
            _rows[key] = Count++;
        }
        finally { _lock.ExitWriteLock(); }
    }

    /// <summary>
    /// Makes room for <paramref name="rows"/> rows at once: a build that knows its size allocates
    /// once, rather than doubling its way there with two copies alive at each step.
    /// </summary>
    public void Reserve(int rows)
    {
        _lock.EnterWriteLock();
        try
        {
            if (rows <= _keys.Length) return;
            Array.Resize(ref _keys, rows);
            Array.Resize(ref _vectors, rows * Dimensions);
        }
        finally { _lock.ExitWriteLock(); }
    }

    /// <summary>Gives back the room doubling left unused: a built index holds what it holds, and a little for appends.</summary>
    public void TrimExcess()
    {
        _lock.EnterWriteLock();
        try
        {
            var capacity = Count + Math.Max(16, Count / 64);
            if (capacity >= _keys.Length) return;
            Array.Resize(ref _keys, capacity);
            Array.Resize(ref _vectors, capacity * Dimensions);
        }
        finally { _lock.ExitWriteLock(); }
    }

    /// <summary>Removes the row with this key, if there is one, moving the last row into its place.</summary>
    public void Remove(long key)
    {
        _lock.EnterWriteLock();
        try
        {
            if (!_rows.Remove(key, out var row)) return;
            var last = --Count;
            if (row != last)
            {
                _vectors.AsSpan(last * Dimensions, Dimensions).CopyTo(_vectors.AsSpan(row * Dimensions, Dimensions));
                _keys[row] = _keys[last];
                _rows[_keys[row]] = row;
            }
        }
        finally { _lock.ExitWriteLock(); }
    }

    /// <summary>Cosine similarity of the query to the row with this key, if there is one.</summary>
    public double? Similarity(ReadOnlySpan<float> normalisedQuery, long key)
    {
        _lock.EnterReadLock();
        try
        {
            return _rows.TryGetValue(key, out var row) && normalisedQuery.Length == Dimensions
                ? TensorPrimitives.Dot(normalisedQuery, _vectors.AsSpan(row * Dimensions, Dimensions))
                : null;
        }
        finally { _lock.ExitReadLock(); }
    }

    /// <summary>The keys of the <paramref name="k"/> rows most similar to the query, with their similarity.</summary>
    public List<(long Key, double Similarity)> Nearest(ReadOnlySpan<float> normalisedQuery, int k)
    {
        if (normalisedQuery.Length != Dimensions || k <= 0) return [];
        var query = normalisedQuery.ToArray();
        _lock.EnterReadLock();
        try
        {
            var count = Count;
            var vectors = _vectors;
            var keys = _keys;
            // Past a few megabytes of vectors the scan is memory-bound: split it across the cores.
            var parts = (long)count * Dimensions < 4_000_000 ? 1 : Math.Min(Environment.ProcessorCount, 4);
            var tops = new PriorityQueue<long, float>[parts];
            var dimensions = Dimensions;
            Parallel.For(0, parts, part => tops[part] = Scan(query, vectors, keys, dimensions,
                (int)((long)count * part / parts), (int)((long)count * (part + 1) / parts), k));
            var result = new List<(long Key, double Similarity)>(k * parts);
            foreach (var top in tops)
                while (top.TryDequeue(out var key, out var similarity)) result.Add((key, similarity));
            return [.. result.OrderByDescending(r => r.Similarity).Take(k)];
        }
        finally { _lock.ExitReadLock(); }
    }

    /// <summary>
    /// The <paramref name="k"/> best rows of one stretch. Optimised from its first call: this loop is
    /// all a vector search does, and tiered compilation would run it unoptimised (several times
    /// slower) for the first hundreds of searches after a start.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static PriorityQueue<long, float> Scan(float[] query, float[] vectors, long[] keys, int dimensions, int from, int to, int k)
    {
        var top = new PriorityQueue<long, float>(k + 1);
        for (var i = from; i < to; i++)
        {
            var similarity = TensorPrimitives.Dot(query, vectors.AsSpan(i * dimensions, dimensions));
            if (top.Count < k) top.Enqueue(keys[i], similarity);
            else if (top.TryPeek(out _, out var least) && similarity > least) top.EnqueueDequeue(keys[i], similarity);
        }
        return top;
    }

    public static float[] Normalise(ReadOnlySpan<float> vector)
    {
        var copy = vector.ToArray();
        var norm = TensorPrimitives.Norm(copy);
        if (norm > 0) TensorPrimitives.Divide(copy, norm, copy);
        return copy;
    }

    public static byte[] ToBlob(ReadOnlyMemory<float> vector) => MemoryMarshal.AsBytes(vector.Span).ToArray();

    public static ReadOnlySpan<float> FromBlob(byte[] blob) => MemoryMarshal.Cast<byte, float>(blob);
}
