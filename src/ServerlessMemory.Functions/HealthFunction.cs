using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using ServerlessMemory.Api;

namespace ServerlessMemory.Functions;

/// <summary><c>/api/health</c>, open to all.</summary>
public sealed class HealthFunction
{
    [Function("Health")]
    public Task<IResult> Health(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "health")] HttpRequest request,
        CancellationToken cancellationToken) =>
        MemoryApi.Health(request, cancellationToken);
}
