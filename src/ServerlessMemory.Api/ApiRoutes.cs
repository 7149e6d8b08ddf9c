using System.Text.Json.Nodes;
using ServerlessMemory.Core;

namespace ServerlessMemory.Api;

/// <summary>Who may call a route, with Azure Functions' names: both hosts enforce the same levels.</summary>
public enum AccessLevel
{
    Anonymous,
    Function,
    Admin,
}

/// <summary>
/// One route of the API, as both hosts serve it: its name (the Functions function's and the
/// <see cref="MemoryApi"/> handler's), method, template, who may call it, the shared handler, and
/// what the OpenAPI document says of it.
/// </summary>
public sealed record ApiRoute(string Name, string Method, string Template, AccessLevel Access, Delegate Handler, ApiDescription Description);

/// <summary>
/// The API's route table (templates relative to <c>/api</c>, as Azure Functions writes them). The
/// self-host maps each row (<c>MapMemoryApi</c>) and the OpenAPI document is read off them. To add a
/// route: a row here, its handler on <see cref="MemoryApi"/> (<c>Task&lt;IResult&gt;</c> taking the
/// request, the route values and the token), and a one-line method of the same name in a Functions
/// class; <c>FunctionsRouteTests</c> fails until the Functions app has it, with this row's method,
/// template and access level.
/// </summary>
public static class ApiRoutes
{
    private static readonly ApiQueryParameter[] Paging =
    [
        new("limit", "integer", "Page size."),
        new("continuationToken", "string", "From the previous page."),
    ];

    public static readonly IReadOnlyList<ApiRoute> All =
    [
        new("Health", "GET", "health", AccessLevel.Anonymous, MemoryApi.Health,
            new("Status, store, model and the decay model's settings", null, 200, typeof(HealthAnswer), [])),
        new("Chat", "POST", "users/{userId}/chat", AccessLevel.Function, MemoryApi.Chat,
            new("A chat turn; with Accept: text/event-stream, Server-Sent Events delta, tool, done or error", typeof(ChatRequest), 200, typeof(ChatAnswerDto), [400, 413, 503])),
        new("Context", "POST", "users/{userId}/context", AccessLevel.Function, MemoryApi.Context,
            new("Memory for your own agent's prompt", typeof(ContextRequest), 200, typeof(ContextAnswer), [400, 413])),
        new("Turns", "POST", "users/{userId}/turns", AccessLevel.Function, MemoryApi.Turns,
            new("Remember your own agent's turn: stored, then extracted", typeof(TurnsRequest), 200, typeof(TurnsAnswer), [400, 413, 503])),
        new("GetCoreMemory", "GET", "users/{userId}/memory/core", AccessLevel.Function, MemoryApi.GetCoreMemory,
            new("The core memory blocks and their ETag", null, 200, typeof(CoreMemoryDto), [400])),
        new("PutCoreBlock", "PUT", "users/{userId}/memory/core/{label}", AccessLevel.Function, MemoryApi.PutCoreBlock,
            new("Write a block (If-Match optional)", typeof(PutBlockRequest), 200, typeof(MemoryBlock), [400, 412, 413])),
        new("DeleteCoreBlock", "DELETE", "users/{userId}/memory/core/{label}", AccessLevel.Function, MemoryApi.DeleteCoreBlock,
            new("Remove a block", null, 204, null, [400, 412])),
        new("AddArchiveItem", "POST", "users/{userId}/memory/archive", AccessLevel.Function, MemoryApi.AddArchiveItem,
            new("Add an archive memory (200 with the stored one when it is already there)", typeof(AddArchiveRequest), 201, typeof(ArchiveItemDto), [400, 413])),
        new("SearchArchive", "GET", "users/{userId}/memory/archive", AccessLevel.Function, MemoryApi.SearchArchive,
            new("Ranked search with query (each result counts as a recall), else newest first", null, 200, typeof(PageDto<ArchiveItemDto>), [400],
            [new("query", "string", "What to look for."), new("top", "integer", "Results of a search (default 5)."),
             new("history", "boolean", "With query: also superseded memories."), .. Paging])),
        new("GetArchiveItem", "GET", "users/{userId}/memory/archive/{id}", AccessLevel.Function, MemoryApi.GetArchiveItem,
            new("One archive memory", null, 200, typeof(ArchiveItemDto), [400, 404])),
        new("DeleteArchiveItem", "DELETE", "users/{userId}/memory/archive/{id}", AccessLevel.Function, MemoryApi.DeleteArchiveItem,
            new("Forget one archive memory", null, 204, null, [400, 404])),
        new("ListMessages", "GET", "users/{userId}/messages", AccessLevel.Function, MemoryApi.ListMessages,
            new("The conversation, newest first (with sessionId, the first page also has the session's summary)", null, 200, typeof(MessagePageDto), [400],
            [new("sessionId", "string", "One session only."), .. Paging])),
        new("DeleteUser", "DELETE", "users/{userId}", AccessLevel.Function, MemoryApi.DeleteUser,
            new("Erase everything of the user", null, 204, null, [400])),
        new("ExportUser", "GET", "users/{userId}/export", AccessLevel.Function, MemoryApi.ExportUser,
            new("Everything kept for the user as one streamed document (format serverless-memory/1, schema in docs/export.schema.json)",
                null, 200, typeof(ExportDocument), [400], [new("vectors", "boolean", "Also each memory's vector, with the model and dimensions.")])),
        new("ImportUser", "POST", "users/{userId}/import", AccessLevel.Function, MemoryApi.ImportUser,
            new("Bring an export document (serverless-memory/1) into the user's memory, read as it arrives and written in atomic chunks",
                typeof(ExportDocument), 200, typeof(ImportReport), [400, 412, 413, 415, 503],
                [new("mode", "string", "merge (default): add what the store lacks and keep what it has; replace: the user's memory becomes the document's."),
                 new("dryRun", "boolean", "Answer what would be added, updated, skipped or in conflict, and write nothing."),
                 new("cursor", "string", "From an interrupted import's answer: go on after the records that landed."),
                 new("fromUserId", "string", "The document's user, when it is not the route's: memory moved to another user on purpose.")])),
        new("ListTools", "GET", "tools", AccessLevel.Function, MemoryApi.ListTools,
            new("The memory tools, as OpenAI function definitions", null, 200, typeof(ToolListAnswer), [])),
        new("InvokeTool", "POST", "users/{userId}/tools/{name}", AccessLevel.Function, MemoryApi.InvokeTool,
            new("Run a memory tool with its arguments object", typeof(JsonObject), 200, typeof(ToolResultAnswer), [400, 404, 413])),
        new("RunDecaySweep", "POST", "admin/decay", AccessLevel.Admin, MemoryApi.RunDecaySweep,
            new("Run the decay sweep now (admin key)", null, 200, typeof(SweepAnswer), [])),
        new("ListUsers", "GET", "admin/users", AccessLevel.Admin, MemoryApi.ListUsers,
            new("Users whose id starts with prefix, in id order, paged (admin key)", null, 200, typeof(PageDto<UserSummaryDto>), [400],
            [new("prefix", "string", "Ids starting with this (default: every user)."), .. Paging])),
        new("Mcp", "POST", "users/{userId}/mcp", AccessLevel.Function, MemoryApi.Mcp,
            new("MCP server (Streamable HTTP, JSON-RPC 2.0, stateless) with the user's memory tools", typeof(JsonObject), 200, null, [400, 406],
            Produces: "text/event-stream")),
        new("OpenApi", "GET", "openapi.json", AccessLevel.Anonymous, MemoryApi.OpenApi,
            new("This document", null, 200, typeof(JsonObject), [])),
        new("Inspector", "GET", "inspector/{*path}", AccessLevel.Anonymous, MemoryApi.Inspector,
            new("The memory inspector: its page (inspector/), scripts and styles, no data and no key", null, 200, typeof(string), [404],
            Produces: "text/html")),
    ];

    public static ApiRoute Get(string name) => All.Single(r => r.Name == name);
}
