namespace ServerlessMemory.Cosmos;

/// <summary>Section <c>Cosmos</c>: where the Cosmos DB store keeps memory.</summary>
public sealed class CosmosStoreOptions
{
    /// <summary>The key every Cosmos DB emulator accepts (published by Microsoft; not a secret).</summary>
    public const string EmulatorKey = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==";

    /// <summary>The account endpoint, e.g. <c>https://my-account.documents.azure.com:443/</c> or <c>https://localhost:8081/</c>.</summary>
    public string? Endpoint { get; set; }

    /// <summary>An account key; null or empty signs in with <c>DefaultAzureCredential</c> (managed identity in Azure).</summary>
    public string? Key { get; set; }

    public string Database { get; set; } = "serverless-memory";

    public string Container { get; set; } = "memory";

    /// <summary>Creates the database and the container with its policies when missing (local and emulator use; in Azure the Bicep creates them).</summary>
    public bool CreateIfNotExists { get; set; }

    /// <summary>The embedding model's dimensions, as the container's vector policy declares them.</summary>
    public int EmbeddingDimensions { get; set; } = 1536;

    /// <summary>
    /// Accepts the self-signed certificate of a local emulator or test server. Also switches to gateway
    /// mode limited to the endpoint, which is all an emulator offers. Never for a real account.
    /// </summary>
    public bool AllowInsecureEmulatorCertificate { get; set; }

    /// <summary>
    /// The SDK's wait for one response from the service (its default is 6 s). Below
    /// <c>Memory:Limits:StoreTimeout</c> (10 s), so that a lost request is retried by the SDK within it.
    /// </summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long the SDK keeps retrying throttled (429) requests in all (its default is 30 s): below the
    /// store deadline, so that throttling the SDK gives up on reaches the caller as a 503 with the
    /// service's Retry-After instead of a deadline passing.
    /// </summary>
    public TimeSpan MaxThrottleRetryWait { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Sent as the user agent suffix, so the account's diagnostics can tell this service apart.</summary>
    public string ApplicationName { get; set; } = "ServerlessMemory";
}
