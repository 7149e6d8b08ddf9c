using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using ServerlessMemory.Api;

namespace ServerlessMemory.Functions;

/// <summary><c>/api/openapi.json</c>: the document the self-host's build generated, open to all as health is.</summary>
public sealed class OpenApiFunction
{
    [Function("OpenApi")]
    public Task<IResult> OpenApi(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "openapi.json")] HttpRequest request,
        CancellationToken cancellationToken) =>
        MemoryApi.OpenApi(request, cancellationToken);
}
