using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using ServerlessMemory.Api;

namespace ServerlessMemory.Functions;

/// <summary>The memory tools, listed and invoked directly.</summary>
public sealed class ToolFunctions
{
    [Function("ListTools")]
    public Task<IResult> ListTools(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "tools")] HttpRequest request,
        CancellationToken cancellationToken) =>
        MemoryApi.ListTools(request, cancellationToken);

    [Function("InvokeTool")]
    public Task<IResult> InvokeTool(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "users/{userId}/tools/{name}")] HttpRequest request,
        string userId, string name, CancellationToken cancellationToken) =>
        MemoryApi.InvokeTool(request, userId, name, cancellationToken);
}
