using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using ServerlessMemory.Api;

namespace ServerlessMemory.Functions;

/// <summary>A user's memory out of the service as one streamed document, and back in.</summary>
public sealed class PortabilityFunctions
{
    [Function("ExportUser")]
    public Task<IResult> ExportUser(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "users/{userId}/export")] HttpRequest request,
        string userId, CancellationToken cancellationToken) =>
        MemoryApi.ExportUser(request, userId, cancellationToken);

    [Function("ImportUser")]
    public Task<IResult> ImportUser(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "users/{userId}/import")] HttpRequest request,
        string userId, CancellationToken cancellationToken) =>
        MemoryApi.ImportUser(request, userId, cancellationToken);
}
