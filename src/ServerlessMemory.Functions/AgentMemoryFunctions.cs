using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using ServerlessMemory.Api;

namespace ServerlessMemory.Functions;

/// <summary>Memory for agents that run their own loop: the prompt's memory before a run, the run's messages after it.</summary>
public sealed class AgentMemoryFunctions
{
    [Function("Context")]
    public Task<IResult> Context(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "users/{userId}/context")] HttpRequest request,
        string userId, CancellationToken cancellationToken) =>
        MemoryApi.Context(request, userId, cancellationToken);

    [Function("Turns")]
    public Task<IResult> Turns(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "users/{userId}/turns")] HttpRequest request,
        string userId, CancellationToken cancellationToken) =>
        MemoryApi.Turns(request, userId, cancellationToken);
}
