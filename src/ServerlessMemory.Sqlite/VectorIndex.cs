using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace ServerlessMemory.Sqlite;

/// <summary>
/// One user's embeddings, normalised and held contiguously in memory so that a search is one pass
/// of dot products instead of reading every blob from disk. Built on a user's first vector search,
/// appended to on insert, dropped on delete.
/// </summary>
internal sealed class VectorIndex(int dimensions)
{
    private float[] _vectors = new float[dimensions * 64];
    private long[] _keys = new long[64];
    private readonly Dictionary<long, int> _rows = [];

    public int Dimensions { get; } = dimensions;
    public int Count { get; private set; }
    public long Bytes => (long)_vectors.Length * sizeof(float);

    public void Add(long key, ReadOnlySpan<float> vector)
    {
        if (vector.Length != Dimensions || _rows.ContainsKey(key)) return;
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

    /// <summary>Cosine similarity of the query to the row with this key, if there is one.</summary>
    public double? Similarity(ReadOnlySpan<float> normalisedQuery, long key) =>
        _rows.TryGetValue(key, out var row) && normalisedQuery.Length == Dimensions
            ? TensorPrimitives.Dot(normalisedQuery, _vectors.AsSpan(row * Dimensions, Dimensions))
            : null;

    /// <summary>The keys of the <paramref name="k"/> rows most similar to the query, with their similarity.</summary>
    public List<(long Key, double Similarity)> Nearest(ReadOnlySpan<float> normalisedQuery, int k)
    {
        // Past a few megabytes of vectors the scan is memory-bound: split it across the cores.
        var parts = (long)Count * Dimensions < 4_000_000 ? 1 : Math.Min(Environment.ProcessorCount, 4);
        var query = normalisedQuery.ToArray();
        var tops = new PriorityQueue<long, float>[parts];
        Parallel.For(0, parts, part =>
        {
            var top = new PriorityQueue<long, float>(k + 1);
            var (from, to) = ((int)((long)Count * part / parts), (int)((long)Count * (part + 1) / parts));
            for (var i = from; i < to; i++)
            {
                var similarity = TensorPrimitives.Dot(query, _vectors.AsSpan(i * Dimensions, Dimensions));
                if (top.Count < k) top.Enqueue(_keys[i], similarity);
                else if (top.TryPeek(out _, out var least) && similarity > least) top.EnqueueDequeue(_keys[i], similarity);
            }
            tops[part] = top;
        });
        var result = new List<(long Key, double Similarity)>(k * parts);
        foreach (var top in tops)
            while (top.TryDequeue(out var key, out var similarity)) result.Add((key, similarity));
        return [.. result.OrderByDescending(r => r.Similarity).Take(k)];
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
