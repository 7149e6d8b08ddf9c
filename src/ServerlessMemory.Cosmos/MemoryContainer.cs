using System.Collections.ObjectModel;
using Microsoft.Azure.Cosmos;

namespace ServerlessMemory.Cosmos;

/// <summary>
/// The one container's policy, defined once: the store creates the container from it when asked to,
/// and <c>infra/main.bicep</c> declares the same policy (a test compares the two). One container,
/// partition key <c>/userId</c>: a user's whole state sits in one logical partition.
/// </summary>
public static class MemoryContainer
{
    public const string DefaultDatabase = "serverless-memory";
    public const string DefaultContainer = "memory";
    public const string PartitionKeyPath = "/userId";

    /// <summary>Where an archive item keeps its float32 vector; excluded from the range index.</summary>
    public const string EmbeddingPath = "/embedding";

    /// <summary>text-embedding-3-small's dimensions.</summary>
    public const int DefaultDimensions = 1536;

    public const DistanceFunction Distance = DistanceFunction.Cosine;
    public const VectorDataType DataType = VectorDataType.Float32;
    public const VectorIndexType IndexType = VectorIndexType.QuantizedFlat;

    /// <summary>The text that hybrid search ranks with full-text scoring.</summary>
    public const string FullTextPath = "/content";
    public const string FullTextLanguage = "en-US";

    /// <summary>
    /// TTL on for the container with no default: a document lives for ever unless it carries its own
    /// <c>ttl</c>.
    /// </summary>
    public const int DefaultTimeToLive = -1;

    /// <summary>The container's properties: vector and full-text policies, their indexes, and TTL on.</summary>
    public static ContainerProperties Properties(string containerName, int dimensions)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(containerName);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dimensions);

        var embeddings = new Collection<Embedding>
        {
            new()
            {
                Path = EmbeddingPath,
                DataType = DataType,
                DistanceFunction = Distance,
                Dimensions = dimensions,
            },
        };

        var indexing = new IndexingPolicy
        {
            Automatic = true,
            IndexingMode = IndexingMode.Consistent,
        };
        indexing.IncludedPaths.Add(new IncludedPath { Path = "/*" });
        indexing.ExcludedPaths.Add(new ExcludedPath { Path = EmbeddingPath + "/*" });
        indexing.ExcludedPaths.Add(new ExcludedPath { Path = "/\"_etag\"/?" });
        indexing.VectorIndexes.Add(new VectorIndexPath { Path = EmbeddingPath, Type = IndexType });
        indexing.FullTextIndexes.Add(new FullTextIndexPath { Path = FullTextPath });

        return new ContainerProperties(containerName, PartitionKeyPath)
        {
            VectorEmbeddingPolicy = new VectorEmbeddingPolicy(embeddings),
            FullTextPolicy = new FullTextPolicy
            {
                DefaultLanguage = FullTextLanguage,
                FullTextPaths = new Collection<FullTextPath>
                {
                    new() { Path = FullTextPath, Language = FullTextLanguage },
                },
            },
            IndexingPolicy = indexing,
            DefaultTimeToLive = DefaultTimeToLive,
        };
    }
}
