using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace ServerlessMemory.Api;

/// <summary>
/// The self-host's keys, checked as Azure Functions checks its own: <c>x-functions-key</c> or
/// <c>?code=</c>; the admin key opens every route. With no keys the host serves loopback only.
/// </summary>
public sealed class ApiKeyFilter(IOptions<AuthOptions> options) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var auth = options.Value;
        var route = context.HttpContext.GetEndpoint()?.Metadata.GetMetadata<ApiRoute>();
        if (!auth.HasKeys || route is null || route.Access == AccessLevel.Anonymous) return await next(context);

        var request = context.HttpContext.Request;
        var presented = request.Headers["x-functions-key"].ToString() is { Length: > 0 } header ? header : request.Query["code"].ToString();
        var allowed = Matches(presented, auth.AdminKey) || (route.Access == AccessLevel.Function && Matches(presented, auth.ApiKey));
        return allowed
            ? await next(context)
            : TypedResults.Problem(statusCode: 401, title: "A valid key is required.",
                detail: route.Access == AccessLevel.Admin ? "This route needs the admin key in x-functions-key." : "Send the API key in x-functions-key or ?code=.");
    }

    private static bool Matches(string presented, string? key) =>
        !string.IsNullOrEmpty(key) && presented.Length > 0 &&
        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), Encoding.UTF8.GetBytes(key));
}
