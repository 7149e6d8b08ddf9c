namespace ServerlessMemory.Api;

/// <summary>Who may call a route, with Azure Functions' names: both hosts enforce the same levels.</summary>
public enum AccessLevel
{
    Anonymous,
    Function,
    Admin,
}

/// <summary>One route of the API, as both hosts serve it.</summary>
public sealed record ApiRoute(string Name, string Method, string Template, AccessLevel Access);

/// <summary>The API's route table (templates relative to <c>/api</c>, as Azure Functions writes them).</summary>
public static class ApiRoutes
{
    public static readonly IReadOnlyList<ApiRoute> All =
    [
        new("Health", "GET", "health", AccessLevel.Anonymous),
        new("Chat", "POST", "users/{userId}/chat", AccessLevel.Function),
        new("Context", "POST", "users/{userId}/context", AccessLevel.Function),
        new("Turns", "POST", "users/{userId}/turns", AccessLevel.Function),
        new("GetCoreMemory", "GET", "users/{userId}/memory/core", AccessLevel.Function),
        new("PutCoreBlock", "PUT", "users/{userId}/memory/core/{label}", AccessLevel.Function),
        new("DeleteCoreBlock", "DELETE", "users/{userId}/memory/core/{label}", AccessLevel.Function),
        new("AddArchiveItem", "POST", "users/{userId}/memory/archive", AccessLevel.Function),
        new("SearchArchive", "GET", "users/{userId}/memory/archive", AccessLevel.Function),
        new("GetArchiveItem", "GET", "users/{userId}/memory/archive/{id}", AccessLevel.Function),
        new("DeleteArchiveItem", "DELETE", "users/{userId}/memory/archive/{id}", AccessLevel.Function),
        new("ListMessages", "GET", "users/{userId}/messages", AccessLevel.Function),
        new("DeleteUser", "DELETE", "users/{userId}", AccessLevel.Function),
        new("ListTools", "GET", "tools", AccessLevel.Function),
        new("InvokeTool", "POST", "users/{userId}/tools/{name}", AccessLevel.Function),
        new("RunDecaySweep", "POST", "admin/decay", AccessLevel.Admin),
        new("ListUsers", "GET", "admin/users", AccessLevel.Admin),
        new("Mcp", "POST", "users/{userId}/mcp", AccessLevel.Function),
        new("OpenApi", "GET", "openapi.json", AccessLevel.Anonymous),
        new("Inspector", "GET", "inspector/{*path}", AccessLevel.Anonymous),
    ];

    public static ApiRoute Get(string name) => All.Single(r => r.Name == name);
}
