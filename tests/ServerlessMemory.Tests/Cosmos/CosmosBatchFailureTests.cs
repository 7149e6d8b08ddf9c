using System.Net;
using Microsoft.Azure.Cosmos;
using ServerlessMemory.Core;
using ServerlessMemory.Cosmos;

namespace ServerlessMemory.Tests.Cosmos;

/// <summary>
/// How a commit reads a transactional batch refused as a whole (throttled, too large, the service
/// down): a handler in the SDK's pipeline answers batches with a status and no body, which the SDK
/// gives every operation of the batch. Everything else goes to the local server, whose own batches
/// are exercised by <see cref="CosmosPointOperationTests"/> and the contract suite.
/// </summary>
[Collection(LocalCosmosCollection.Name)]
public sealed class CosmosBatchFailureTests(LocalCosmosServer server)
{
    private static CoreMemory Core(string? etag) => CoreMemory.CreateDefault(2000) with { ETag = etag };

    /// <summary>A change set sent as one batch, as CommitAsync sends any change set of two writes or more.</summary>
    private static Task<string?> Batch(CosmosMemoryStore store, string userId, MemoryChangeSet changes) =>
        store.ExecuteBatchAsync(userId, CosmosWrite.Plan(userId, changes), RequestMeter.Start(), default);

    private async Task<(CosmosMemoryStore Store, CosmosClient Client, BatchAnswer Answer)> StoreAnsweringAsync(HttpStatusCode status)
    {
        var answer = new BatchAnswer(status);
        var client = CosmosClients.Create(server.Options, options =>
        {
            options.ServerCertificateCustomValidationCallback = null;
            options.HttpClientFactory = () => new HttpClient(new HttpClientHandler
            {
                ServerCertificateCustomValidationCallback = HttpClientHandler.DangerousAcceptAnyServerCertificateValidator,
            });
            options.CustomHandlers.Add(answer);
        });
        var store = new CosmosMemoryStore(client, server.Options);
        await store.ContainerAsync();
        return (store, client, answer);
    }

    [LocalCosmosFact]
    public async Task A_batch_failing_on_its_core_etag_is_a_conflict()
    {
        var (store, client, answer) = await StoreAnsweringAsync(HttpStatusCode.PreconditionFailed);
        using (client)
        {
            var conflict = await Assert.ThrowsAsync<MemoryConflictException>(() => Batch(store, "u-batch", new() { Core = Core("\"stale\"") }));
            Assert.Equal("Core memory has changed since it was read.", conflict.Message);
            Assert.Equal(1, answer.Batches);
        }
    }

    [LocalCosmosFact]
    public async Task A_batch_failing_on_creating_core_that_exists_is_a_conflict()
    {
        var (store, client, _) = await StoreAnsweringAsync(HttpStatusCode.Conflict);
        using (client)
            await Assert.ThrowsAsync<MemoryConflictException>(() => Batch(store, "u-batch", new() { Core = Core(null) }));
    }

    [LocalCosmosFact]
    public async Task A_batch_failing_for_another_reason_is_an_error_not_a_conflict()
    {
        var (store, client, _) = await StoreAnsweringAsync(HttpStatusCode.ServiceUnavailable);
        using (client)
        {
            var error = await Assert.ThrowsAsync<CosmosException>(() => Batch(store, "u-batch", new() { Core = Core("\"e\"") }));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, error.StatusCode);
        }
    }

    [LocalCosmosFact]
    public async Task A_batch_refused_as_a_whole_is_an_error_even_when_its_status_looks_like_a_conflict()
    {
        var (store, client, _) = await StoreAnsweringAsync(HttpStatusCode.Conflict);
        using (client)
        {
            var error = await Assert.ThrowsAsync<CosmosException>(() => store.CommitAsync("u-batch", new()
            {
                Core = Core(null),
                Messages = [new("m1", "default", "t", "user", "hello", DateTimeOffset.UnixEpoch)],
            }));
            Assert.Contains("the batch of 2", error.Message, StringComparison.Ordinal);
        }
    }

    private sealed class BatchAnswer(HttpStatusCode status) : RequestHandler
    {
        private int _batches;

        public int Batches => _batches;

        public override Task<ResponseMessage> SendAsync(RequestMessage request, CancellationToken cancellationToken)
        {
            if (!request.Headers.TryGetValue("x-ms-cosmos-is-batch-request", out var batch) || batch != "True")
                return base.SendAsync(request, cancellationToken);
            Interlocked.Increment(ref _batches);
            return Task.FromResult(new ResponseMessage(status, request, errorMessage: "answered by the test"));
        }
    }
}
