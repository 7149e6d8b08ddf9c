using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using ServerlessMemory.Api;

namespace ServerlessMemory.Functions;

/// <summary>The memory tools as an MCP server (Streamable HTTP, stateless), over the SDK's server and transport.</summary>
public sealed class McpFunction
{
    [Function("Mcp")]
    public Task<IResult> Mcp(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "users/{userId}/mcp")] HttpRequest request,
        string userId, CancellationToken cancellationToken) =>
        MemoryApi.Mcp(request, userId, cancellationToken);
}
