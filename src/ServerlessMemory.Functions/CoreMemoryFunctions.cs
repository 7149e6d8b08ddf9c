using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using ServerlessMemory.Api;

namespace ServerlessMemory.Functions;

/// <summary>The user's core memory blocks.</summary>
public sealed class CoreMemoryFunctions
{
    [Function("GetCoreMemory")]
    public Task<IResult> GetCoreMemory(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "users/{userId}/memory/core")] HttpRequest request,
        string userId, CancellationToken cancellationToken) =>
        MemoryApi.GetCoreMemory(request, userId, cancellationToken);

    [Function("PutCoreBlock")]
    public Task<IResult> PutCoreBlock(
        [HttpTrigger(AuthorizationLevel.Function, "put", Route = "users/{userId}/memory/core/{label}")] HttpRequest request,
        string userId, string label, CancellationToken cancellationToken) =>
        MemoryApi.PutCoreBlock(request, userId, label, cancellationToken);

    [Function("DeleteCoreBlock")]
    public Task<IResult> DeleteCoreBlock(
        [HttpTrigger(AuthorizationLevel.Function, "delete", Route = "users/{userId}/memory/core/{label}")] HttpRequest request,
        string userId, string label, CancellationToken cancellationToken) =>
        MemoryApi.DeleteCoreBlock(request, userId, label, cancellationToken);
}
