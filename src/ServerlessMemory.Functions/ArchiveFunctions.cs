using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using ServerlessMemory.Api;

namespace ServerlessMemory.Functions;

/// <summary>The user's archive memory.</summary>
public sealed class ArchiveFunctions
{
    [Function("AddArchiveItem")]
    public Task<IResult> AddArchiveItem(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "users/{userId}/memory/archive")] HttpRequest request,
        string userId, CancellationToken cancellationToken) =>
        MemoryApi.AddArchiveItem(request, userId, cancellationToken);

    [Function("SearchArchive")]
    public Task<IResult> SearchArchive(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "users/{userId}/memory/archive")] HttpRequest request,
        string userId, CancellationToken cancellationToken) =>
        MemoryApi.SearchArchive(request, userId, cancellationToken);

    [Function("GetArchiveItem")]
    public Task<IResult> GetArchiveItem(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "users/{userId}/memory/archive/{id}")] HttpRequest request,
        string userId, string id, CancellationToken cancellationToken) =>
        MemoryApi.GetArchiveItem(request, userId, id, cancellationToken);

    [Function("DeleteArchiveItem")]
    public Task<IResult> DeleteArchiveItem(
        [HttpTrigger(AuthorizationLevel.Function, "delete", Route = "users/{userId}/memory/archive/{id}")] HttpRequest request,
        string userId, string id, CancellationToken cancellationToken) =>
        MemoryApi.DeleteArchiveItem(request, userId, id, cancellationToken);
}
