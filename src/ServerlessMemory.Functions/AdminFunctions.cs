using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using ServerlessMemory.Api;

namespace ServerlessMemory.Functions;

/// <summary><c>/api/admin/*</c>: the admin key only.</summary>
public sealed class AdminFunctions
{
    [Function("RunDecaySweep")]
    public Task<IResult> RunDecaySweep(
        [HttpTrigger(AuthorizationLevel.Admin, "post", Route = "admin/decay")] HttpRequest request,
        CancellationToken cancellationToken) =>
        MemoryApi.RunDecaySweep(request, cancellationToken);

    [Function("ListUsers")]
    public Task<IResult> ListUsers(
        [HttpTrigger(AuthorizationLevel.Admin, "get", Route = "admin/users")] HttpRequest request,
        CancellationToken cancellationToken) =>
        MemoryApi.ListUsers(request, cancellationToken);
}
