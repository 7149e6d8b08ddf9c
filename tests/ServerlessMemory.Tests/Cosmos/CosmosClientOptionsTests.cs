using ServerlessMemory.Core;
using ServerlessMemory.Cosmos;

namespace ServerlessMemory.Tests.Cosmos;

/// <summary>The SDK's own timeouts sit inside the store deadline, so that what it gives up on reaches the caller as a 503 in time.</summary>
public sealed class CosmosClientOptionsTests
{
    [Fact]
    public void The_sdk_waits_for_a_response_and_retries_throttling_for_less_than_the_store_deadline()
    {
        var options = CosmosClients.ClientOptions(new CosmosStoreOptions { Endpoint = "https://account.documents.azure.com:443/" });
        var deadline = new MemoryLimits().StoreTimeout;

        Assert.Equal(TimeSpan.FromSeconds(5), options.RequestTimeout);
        Assert.Equal(TimeSpan.FromSeconds(5), options.MaxRetryWaitTimeOnRateLimitedRequests);
        Assert.True(options.RequestTimeout < deadline && options.MaxRetryWaitTimeOnRateLimitedRequests < deadline);
    }

    [Fact]
    public void The_timeouts_are_settings()
    {
        var options = CosmosClients.ClientOptions(new CosmosStoreOptions
        {
            Endpoint = "https://account.documents.azure.com:443/",
            RequestTimeout = TimeSpan.FromSeconds(2),
            MaxThrottleRetryWait = TimeSpan.FromSeconds(3),
        });

        Assert.Equal((TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(3)), (options.RequestTimeout, options.MaxRetryWaitTimeOnRateLimitedRequests!.Value));
    }
}
