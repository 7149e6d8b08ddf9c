using System.Collections.Concurrent;
using Azure.Identity;
using Microsoft.Azure.Cosmos;

namespace ServerlessMemory.Cosmos;

/// <summary>
/// One <see cref="CosmosClient"/> per process and account: the client holds connections, caches
/// of partition routing and the token credential, and is meant to live as long as the process.
/// </summary>
public static class CosmosClients
{
    private static readonly ConcurrentDictionary<string, Lazy<CosmosClient>> Shared = new(StringComparer.Ordinal);

    /// <summary>The process's client for these options, created on first use.</summary>
    public static CosmosClient GetOrCreate(CosmosStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var key = string.Join('\n', Endpoint(options), options.Key ?? "", options.AllowInsecureEmulatorCertificate, options.ApplicationName);
        return Shared.GetOrAdd(key, _ => new Lazy<CosmosClient>(() => Create(options))).Value;
    }

    /// <summary>
    /// A new client: an account key, or <c>DefaultAzureCredential</c> when there is none (managed
    /// identity in Azure, the developer's sign-in locally); the System.Text.Json serializer with the
    /// store's options; for an emulator, gateway mode limited to its endpoint and its self-signed
    /// certificate accepted.
    /// </summary>
    public static CosmosClient Create(CosmosStoreOptions options, Action<CosmosClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var clientOptions = ClientOptions(options);
        configure?.Invoke(clientOptions);
        return string.IsNullOrEmpty(options.Key)
            ? new CosmosClient(Endpoint(options), new DefaultAzureCredential(), clientOptions)
            : new CosmosClient(Endpoint(options), options.Key, clientOptions);
    }

    internal static CosmosClientOptions ClientOptions(CosmosStoreOptions options)
    {
        var clientOptions = new CosmosClientOptions
        {
            ApplicationName = options.ApplicationName,
            UseSystemTextJsonSerializerWithOptions = CosmosJson.Options,
            EnableContentResponseOnWrite = false,
            RequestTimeout = options.RequestTimeout,
            MaxRetryWaitTimeOnRateLimitedRequests = options.MaxThrottleRetryWait,
        };
        clientOptions.CustomHandlers.Add(new RequestChargeHandler());
        if (options.AllowInsecureEmulatorCertificate)
        {
            clientOptions.ConnectionMode = ConnectionMode.Gateway;
            clientOptions.LimitToEndpoint = true;
            clientOptions.ServerCertificateCustomValidationCallback = (_, _, _) => true;
        }
        return clientOptions;
    }

    private static string Endpoint(CosmosStoreOptions options) =>
        string.IsNullOrWhiteSpace(options.Endpoint)
            ? throw new InvalidOperationException("Cosmos:Endpoint is not set: the Cosmos DB store needs an account or emulator endpoint.")
            : options.Endpoint;
}
