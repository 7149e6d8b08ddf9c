using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using ServerlessMemory.Api;

namespace ServerlessMemory.Functions;

/// <summary>A chat turn with the user's memory.</summary>
public sealed class ChatFunction
{
    [Function("Chat")]
    public Task<IResult> Chat(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "users/{userId}/chat")] HttpRequest request,
        string userId, CancellationToken cancellationToken) =>
        MemoryApi.Chat(request, userId, cancellationToken);
}
