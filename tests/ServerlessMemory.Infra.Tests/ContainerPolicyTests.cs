using System.Text.Json.Nodes;
using Newtonsoft.Json;
using ServerlessMemory.Cosmos;

namespace ServerlessMemory.Infra.Tests;

/// <summary>The container the Bicep creates is the one <see cref="MemoryContainer"/> describes.</summary>
public sealed class ContainerPolicyTests(CompiledTemplate compiled) : IClassFixture<CompiledTemplate>
{
    private const string ContainerType = "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers";

    /// <summary>The code's container as the SDK sends it to the service.</summary>
    private static JsonNode CodePolicy() =>
        JsonNode.Parse(JsonConvert.SerializeObject(
            MemoryContainer.Properties(MemoryContainer.DefaultContainer, MemoryContainer.DefaultDimensions)))!;

    private JsonNode BicepPolicy() =>
        compiled.Template.Single(ContainerType).Properties?["resource"] ?? throw new InvalidDataException("The container has no resource.");

    [Fact]
    public void Container_policy_in_bicep_matches_the_code()
    {
        var code = CodePolicy();
        var bicep = BicepPolicy();

        AssertSame(code["partitionKey"]?["paths"], bicep["partitionKey"]?["paths"], "partition key paths");
        AssertSame(code["partitionKey"]?["kind"], bicep["partitionKey"]?["kind"], "partition key kind");
        AssertSame(code["defaultTtl"], bicep["defaultTtl"], "default TTL");
        AssertSame(code["vectorEmbeddingPolicy"], bicep["vectorEmbeddingPolicy"], "vector embedding policy");
        Assert.Null(code["fullTextPolicy"]);
        Assert.Null(bicep["fullTextPolicy"]);

        var codeIndexing = code["indexingPolicy"]!;
        var bicepIndexing = bicep["indexingPolicy"]!;
        Assert.Equal((string?)codeIndexing["indexingMode"], (string?)bicepIndexing["indexingMode"], ignoreCase: true);
        Assert.Equal(Paths(codeIndexing["includedPaths"]), Paths(bicepIndexing["includedPaths"]));
        Assert.Equal(Paths(codeIndexing["excludedPaths"]), Paths(bicepIndexing["excludedPaths"]));
        AssertSame(codeIndexing["vectorIndexes"], bicepIndexing["vectorIndexes"], "vector indexes");
        AssertSame(codeIndexing["compositeIndexes"], bicepIndexing["compositeIndexes"], "composite indexes");
        Assert.Null(bicepIndexing["fullTextIndexes"]);
    }

    [Fact]
    public void Container_policy_in_bicep_spells_out_the_expected_values()
    {
        var bicep = BicepPolicy();
        var embedding = bicep["vectorEmbeddingPolicy"]?["vectorEmbeddings"]?[0];

        Assert.Equal(MemoryContainer.PartitionKeyPath, (string?)bicep["partitionKey"]?["paths"]?[0]);
        Assert.Equal(MemoryContainer.EmbeddingPath, (string?)embedding?["path"]);
        Assert.Equal(MemoryContainer.DefaultDimensions, (int?)embedding?["dimensions"]);
        Assert.Equal("cosine", (string?)embedding?["distanceFunction"]);
        Assert.Equal("float32", (string?)embedding?["dataType"]);
        Assert.Equal("quantizedFlat", (string?)bicep["indexingPolicy"]?["vectorIndexes"]?[0]?["type"]);
        Assert.Equal(["/embedding/*", "/\"_etag\"/?", "/content/?", "/metadata/*", "/blocks/*", "/summary/?"], Paths(bicep["indexingPolicy"]?["excludedPaths"]));
        Assert.Equal(2, bicep["indexingPolicy"]?["compositeIndexes"]?.AsArray().Count);
        Assert.Equal(-1, (int?)bicep["defaultTtl"]);
    }

    [Fact]
    public void Database_and_container_names_match_the_code()
    {
        var database = compiled.Template.Single("Microsoft.DocumentDB/databaseAccounts/sqlDatabases");
        var container = compiled.Template.Single(ContainerType);

        Assert.Equal(MemoryContainer.DefaultDatabase, (string?)database.Properties?["resource"]?["id"]);
        Assert.Equal(MemoryContainer.DefaultContainer, (string?)container.Properties?["resource"]?["id"]);
    }

    [Fact]
    public void Container_uses_an_api_version_that_knows_vector_search()
    {
        var container = compiled.Template.Single(ContainerType);

        Assert.True(
            string.CompareOrdinal(container.ApiVersion, "2025-10-15") >= 0,
            $"API version {container.ApiVersion} is older than 2025-10-15, which this template was written against.");
    }

    [Fact]
    public void Embedding_dimensions_default_to_the_code_s_value()
    {
        var parameter = compiled.Template.Root["parameters"]?["embeddingDimensions"];

        Assert.Equal(MemoryContainer.DefaultDimensions, (int?)parameter?["defaultValue"]);
    }

    private static void AssertSame(JsonNode? expected, JsonNode? actual, string what) =>
        Assert.True(
            JsonNode.DeepEquals(expected, actual),
            $"The {what} differ.{Environment.NewLine}code:  {expected?.ToJsonString()}{Environment.NewLine}bicep: {actual?.ToJsonString()}");

    private static List<string?> Paths(JsonNode? paths) =>
        paths is JsonArray array ? [.. array.Select(path => (string?)path?["path"])] : [];
}
