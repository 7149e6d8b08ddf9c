using Microsoft.Azure.Cosmos;
using ServerlessMemory.Core;
using ServerlessMemory.Cosmos;
using ServerlessMemory.Tests.Cosmos;

namespace ServerlessMemory.Tests.Stores;

/// <summary>
/// The store contract suite through <see cref="CosmosMemoryStore"/> on Cosmos DB: on a real account or
/// emulator when <c>COSMOS_TEST_ENDPOINT</c> names one (and <c>COSMOS_TEST_KEY</c>, the emulator's
/// well-known key when unset), else on the local test server (<see cref="LocalCosmosServer"/>), which
/// <c>.ci/run</c> and the test build install. Each run gets a container of its own, created with the
/// production policy. Only when neither can run is every test reported skipped, with the reason
/// (<see cref="CosmosRequiredAttribute"/>, a condition on the class).
/// </summary>
[CosmosRequired]
public sealed class CosmosStoreTests(CosmosContractContainer container) : MemoryStoreContract, IClassFixture<CosmosContractContainer>
{
    protected override IMemoryStore Store => container.Store;
}

/// <summary>Cosmos DB (an account, an emulator or the local test server) can be tested against; else the reason.</summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method)]
public sealed class CosmosRequiredAttribute : Attribute, ITestCondition
{
    public bool IsMet => CosmosContractContainer.Endpoint is not null || LocalCosmosServer.Unavailable is null;

    public string SkipReason =>
        $"Cosmos DB store not tested: {LocalCosmosServer.Unavailable} Or set COSMOS_TEST_ENDPOINT (and COSMOS_TEST_KEY unless it is the emulator) to run the contract suite on an account or emulator.";
}

/// <summary>
/// A container of the run's own with the production container policy: on the configured account or
/// emulator, or else on a local test server of its own.
/// </summary>
public sealed class CosmosContractContainer : IAsyncLifetime
{
    private CosmosClient? _client;
    private CosmosMemoryStore? _store;
    private LocalCosmosServer? _local;

    public static string? Endpoint { get; } = Environment.GetEnvironmentVariable("COSMOS_TEST_ENDPOINT") is { Length: > 0 } endpoint ? endpoint : null;

    /// <summary>Where the suite runs, for the test output.</summary>
    public static string Target => Endpoint is not null ? $"Cosmos DB at {Endpoint}" : "the local Cosmos DB test server";

    public CosmosMemoryStore Store => _store ?? _local?.Store ?? throw new InvalidOperationException("No Cosmos DB to test against.");

    public async Task InitializeAsync()
    {
        if (Endpoint is null)
        {
            if (LocalCosmosServer.Unavailable is not null) return;
            _local = new LocalCosmosServer();
            await _local.InitializeAsync();
            return;
        }
        var key = Environment.GetEnvironmentVariable("COSMOS_TEST_KEY") is { Length: > 0 } k ? k : CosmosStoreOptions.EmulatorKey;
        var options = new CosmosStoreOptions
        {
            Endpoint = Endpoint,
            Key = key,
            Database = "serverless-memory-tests",
            Container = "contract-" + Guid.NewGuid().ToString("N")[..8],
            CreateIfNotExists = true,
            // 3, as the contract's vectors: those go through the vector index, the 2-dimensional ones through exact search.
            EmbeddingDimensions = 3,
            AllowInsecureEmulatorCertificate = key == CosmosStoreOptions.EmulatorKey,
            ApplicationName = "ServerlessMemory.Tests",
        };
        _client = CosmosClients.Create(options);
        _store = new CosmosMemoryStore(_client, options);
        await _store.ContainerAsync();
    }

    public async Task DisposeAsync()
    {
        if (_local is not null) await _local.DisposeAsync();
        if (_client is null || _store is null) return;
        try
        {
            await (await _store.ContainerAsync()).DeleteContainerAsync();
        }
        finally
        {
            _client.Dispose();
        }
    }
}
