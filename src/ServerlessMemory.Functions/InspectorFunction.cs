using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using ServerlessMemory.Api;

namespace ServerlessMemory.Functions;

/// <summary><c>/api/inspector/</c>: the inspector's page and files, open to all (they hold no data; its calls need keys).</summary>
public sealed class InspectorFunction
{
    [Function("Inspector")]
    public Task<IResult> Inspector(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "inspector/{*path}")] HttpRequest request,
        CancellationToken cancellationToken) =>
        MemoryApi.Inspector(request, cancellationToken);
}
