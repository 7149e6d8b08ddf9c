using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using ServerlessMemory.Api;

namespace ServerlessMemory.Functions;

/// <summary>The user's conversation, and the user as a whole.</summary>
public sealed class UserFunctions
{
    [Function("ListMessages")]
    public Task<IResult> ListMessages(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "users/{userId}/messages")] HttpRequest request,
        string userId, CancellationToken cancellationToken) =>
        MemoryApi.ListMessages(request, userId, cancellationToken);

    [Function("DeleteUser")]
    public Task<IResult> DeleteUser(
        [HttpTrigger(AuthorizationLevel.Function, "delete", Route = "users/{userId}")] HttpRequest request,
        string userId, CancellationToken cancellationToken) =>
        MemoryApi.DeleteUser(request, userId, cancellationToken);
}
