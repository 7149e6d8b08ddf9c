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

    /// <summary>
    /// Paths no query filters or orders by: kept out of the range index, which would otherwise be
    /// written (and charged for) on every write of the large text and nested fields they hold.
    /// </summary>
    public static readonly IReadOnlyList<string> UnqueriedPaths =
        ["/embedding/*", "/\"_etag\"/?", "/content/?", "/metadata/*", "/blocks/*", "/summary/?"];

    /// <summary>
    /// The composite indexes the ORDER BY queries of <see cref="CosmosQueries"/> need: the equality
    /// filters first, then the order (listing a user's archive or messages, and one session's messages).
    /// </summary>
    public static readonly IReadOnlyList<IReadOnlyList<(string Path, CompositePathSortOrder Order)>> CompositeIndexPaths =
    [
        [("/userId", CompositePathSortOrder.Ascending), ("/type", CompositePathSortOrder.Ascending), ("/createdAt", CompositePathSortOrder.Descending)],
        [("/userId", CompositePathSortOrder.Ascending), ("/type", CompositePathSortOrder.Ascending), ("/sessionId", CompositePathSortOrder.Ascending),
         ("/createdAt", CompositePathSortOrder.Descending)],
    ];

    /// <summary>
    /// TTL on for the container with no default: a document lives for ever unless it carries its own
    /// <c>ttl</c>.
    /// </summary>
    public const int DefaultTimeToLive = -1;

    /// <summary>
    /// The container's properties: the vector policy and index, a range index on what queries filter
    /// by (<c>/terms/[]</c>, <c>/forgetAt</c>, <c>/type</c>, ...), the composite indexes, and TTL on. No
    /// full-text policy: lexical search reads <c>terms</c>, which works for Chinese (see <see cref="CosmosQueries.ArchiveLexical"/>).
    /// </summary>
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
        foreach (var path in UnqueriedPaths) indexing.ExcludedPaths.Add(new ExcludedPath { Path = path });
        foreach (var composite in CompositeIndexPaths)
            indexing.CompositeIndexes.Add(new Collection<CompositePath>([.. composite.Select(p => new CompositePath { Path = p.Path, Order = p.Order })]));
        indexing.VectorIndexes.Add(new VectorIndexPath { Path = EmbeddingPath, Type = IndexType });

        return new ContainerProperties(containerName, PartitionKeyPath)
        {
            VectorEmbeddingPolicy = new VectorEmbeddingPolicy(embeddings),
            IndexingPolicy = indexing,
            DefaultTimeToLive = DefaultTimeToLive,
        };
    }
}
