using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using ServerlessMemory.Core;

namespace ServerlessMemory.Api;

// The shapes the handlers read and write, for the OpenAPI document: the handlers read bodies
// field by field (unknown fields are a 400), so these records describe rather than bind.
public sealed record ChatRequest(string Message, string? SessionId);
public sealed record ContextRequest(string Message, string? SessionId, int? Tokens);
public sealed record TurnsRequest(string? SessionId, IReadOnlyList<TurnMessageDto> Messages);
public sealed record TurnMessageDto(string Role, string Content);
public sealed record PutBlockRequest(string Value, string? Description, int? Limit, bool? ReadOnly);
public sealed record AddArchiveRequest(string Content, string? Type, double? Importance, DateTimeOffset? CreatedAt, IReadOnlyDictionary<string, string>? Metadata);
public sealed record HealthAnswer(string Status, string Store, string Model, DecayAnswer Decay);
/// <summary>The forgetting model's settings, so a client can draw a memory's strength until its <c>forgetAt</c>.</summary>
public sealed record DecayAnswer(double Threshold, IReadOnlyDictionary<string, double> Rates, double AccessBonusPerAccess, double AccessBonusMax);
public sealed record ToolCallAnswer(string Name, JsonObject? Arguments, JsonNode? Result);
public sealed record UsageAnswer(int ModelCalls, long PromptTokens, long CompletionTokens);
public sealed record ChatAnswerDto(string TurnId, string Reply, IReadOnlyList<ToolCallAnswer> ToolCalls, IReadOnlyList<MemoryUpdate> MemoryUpdates,
    IReadOnlyList<string> Recalled, UsageAnswer Usage);
public sealed record ContextAnswer(string SessionId, IReadOnlyList<MemoryBlock> Blocks, IReadOnlyList<ArchiveItemDto> Recalled, string? Summary, string Text, int Tokens);
public sealed record TurnsAnswer(string TurnId, IReadOnlyList<MemoryUpdate> MemoryUpdates, UsageAnswer Usage);
public sealed record ToolResultAnswer(JsonNode Result);
public sealed record ToolDefinitionDto(string Type, ToolFunctionDto Function);
public sealed record ToolFunctionDto(string Name, string Description, JsonObject Parameters);
public sealed record ToolListAnswer(IReadOnlyList<ToolDefinitionDto> Tools);
public sealed record SweepAnswer(int Scanned, int Forgotten, int Users, long DurationMs);

/// <summary>A query parameter of a route, for the OpenAPI document (the handlers read the query themselves).</summary>
public sealed record ApiQueryParameter(string Name, string Type, string Description);

/// <summary>
/// What each route takes and answers, as OpenAPI metadata on its endpoint. A route of
/// <see cref="ApiRoutes.All"/> without an entry here fails <c>OpenApiDocumentTests</c>.
/// </summary>
public static class ApiDescriptions
{
    private sealed record Description(string Summary, Type? Request, int Status, Type? Response, int[] Problems, ApiQueryParameter[]? Query = null, string? Produces = null);

    private static readonly ApiQueryParameter[] Paging =
    [
        new("limit", "integer", "Page size."),
        new("continuationToken", "string", "From the previous page."),
    ];

    private static readonly Dictionary<string, Description> Routes = new()
    {
        ["Health"] = new("Status, store, model and the decay model's settings", null, 200, typeof(HealthAnswer), []),
        ["Chat"] = new("A chat turn; with Accept: text/event-stream, Server-Sent Events delta, tool, done or error", typeof(ChatRequest), 200, typeof(ChatAnswerDto), [400, 413, 503]),
        ["Context"] = new("Memory for your own agent's prompt", typeof(ContextRequest), 200, typeof(ContextAnswer), [400, 413]),
        ["Turns"] = new("Remember your own agent's turn: stored, then extracted", typeof(TurnsRequest), 200, typeof(TurnsAnswer), [400, 413, 503]),
        ["GetCoreMemory"] = new("The core memory blocks and their ETag", null, 200, typeof(CoreMemoryDto), [400]),
        ["PutCoreBlock"] = new("Write a block (If-Match optional)", typeof(PutBlockRequest), 200, typeof(MemoryBlock), [400, 412, 413]),
        ["DeleteCoreBlock"] = new("Remove a block", null, 204, null, [400, 412]),
        ["AddArchiveItem"] = new("Add an archive memory (200 with the stored one when it is already there)", typeof(AddArchiveRequest), 201, typeof(ArchiveItemDto), [400, 413]),
        ["SearchArchive"] = new("Ranked search with query (each result counts as a recall), else newest first", null, 200, typeof(PageDto<ArchiveItemDto>), [400],
            [new("query", "string", "What to look for."), new("top", "integer", "Results of a search (default 5)."),
             new("history", "boolean", "With query: also superseded memories."), .. Paging]),
        ["GetArchiveItem"] = new("One archive memory", null, 200, typeof(ArchiveItemDto), [400, 404]),
        ["DeleteArchiveItem"] = new("Forget one archive memory", null, 204, null, [400, 404]),
        ["ListMessages"] = new("The conversation, newest first (with sessionId, the first page also has the session's summary)", null, 200, typeof(MessagePageDto), [400],
            [new("sessionId", "string", "One session only."), .. Paging]),
        ["DeleteUser"] = new("Erase everything of the user", null, 204, null, [400]),
        ["ListTools"] = new("The memory tools, as OpenAI function definitions", null, 200, typeof(ToolListAnswer), []),
        ["InvokeTool"] = new("Run a memory tool with its arguments object", typeof(JsonObject), 200, typeof(ToolResultAnswer), [400, 404, 413]),
        ["RunDecaySweep"] = new("Run the decay sweep now (admin key)", null, 200, typeof(SweepAnswer), []),
        ["ListUsers"] = new("Users whose id starts with prefix, in id order, paged (admin key)", null, 200, typeof(PageDto<UserSummaryDto>), [400],
            [new("prefix", "string", "Ids starting with this (default: every user)."), .. Paging]),
        ["Mcp"] = new("MCP server (Streamable HTTP, JSON-RPC 2.0, stateless) with the user's memory tools", typeof(JsonObject), 200, null, [400, 406],
            Produces: "text/event-stream"),
        ["OpenApi"] = new("This document", null, 200, typeof(JsonObject), []),
        ["Inspector"] = new("The memory inspector: its page (inspector/), scripts and styles, no data and no key", null, 200, typeof(string), [404],
            Produces: "text/html"),
    };

    public static bool Has(string routeName) => Routes.ContainsKey(routeName);

    /// <summary>Adds the route's summary, request, responses and query parameters to its endpoint.</summary>
    public static void Describe(ApiRoute route, IEndpointConventionBuilder endpoint)
    {
        if (!Routes.TryGetValue(route.Name, out var d)) return;
        endpoint.WithSummary(d.Summary);
        if (d.Request is not null) endpoint.WithMetadata(new AcceptsMetadata(["application/json"], d.Request));
        endpoint.WithMetadata(new ProducesResponseTypeMetadata(d.Status, d.Response ?? typeof(void),
            d.Response is null && d.Produces is null ? null : [d.Produces ?? "application/json"]));
        var problems = d.Problems.AsEnumerable();
        if (route.Access != AccessLevel.Anonymous) problems = problems.Append(401);
        if (route.Template.StartsWith("users/", StringComparison.Ordinal)) problems = problems.Append(403);
        foreach (var status in problems.Append(500).Distinct().Order())
            endpoint.WithMetadata(new ProducesResponseTypeMetadata(status, typeof(Microsoft.AspNetCore.Mvc.ProblemDetails), ["application/problem+json"]));
        if (d.Query is not null) endpoint.WithMetadata([.. d.Query]);
    }
}
