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
public sealed record AddArchiveRequest(string Content, string? Type, double? Importance, DateTimeOffset? CreatedAt, IReadOnlyDictionary<string, string>? Metadata,
    IReadOnlyList<string>? Supersedes = null);
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
public sealed record ExportDocument(string Format, string UserId, DateTimeOffset ExportedAt, string Store, ExportCore? Core, ExportVectors? Vectors,
    IReadOnlyList<ExportArchiveItem> Archive, IReadOnlyList<ConversationMessage> Messages, IReadOnlyList<ExportSession> Sessions);
public sealed record ExportCore(IReadOnlyList<MemoryBlock> Blocks);
public sealed record ExportArchiveItem(string Id, string Content, string Type, double Importance, DateTimeOffset CreatedAt, DateTimeOffset EnteredAt,
    DateTimeOffset LastAccessedAt, int AccessCount, DateTimeOffset? ForgetAt, DateTimeOffset? SupersededAt, string? SupersededBy,
    IReadOnlyDictionary<string, string> Metadata, float[]? Vector, IReadOnlyList<ArchiveInterval>? History = null);
public sealed record ExportSession(string SessionId, string Summary, DateTimeOffset? SummarizedThrough);

/// <summary>A query parameter of a route, for the OpenAPI document (the handlers read the query themselves).</summary>
public sealed record ApiQueryParameter(string Name, string Type, string Description);

/// <summary>
/// What a route takes and answers, for the OpenAPI document: its summary, request record, success
/// status and response record, the problem statuses it may answer (401, 403 and 500 are added from
/// its access level and template), its query parameters, and its media type when not JSON.
/// </summary>
public sealed record ApiDescription(string Summary, Type? Request, int Status, Type? Response, int[] Problems, ApiQueryParameter[]? Query = null, string? Produces = null);

/// <summary>Writes a route's <see cref="ApiDescription"/> onto its endpoint as OpenAPI metadata.</summary>
public static class ApiDescriptions
{
    /// <summary>Adds the route's summary, request, responses and query parameters to its endpoint.</summary>
    public static void Describe(ApiRoute route, IEndpointConventionBuilder endpoint)
    {
        var d = route.Description;
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
