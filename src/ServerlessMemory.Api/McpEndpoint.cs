using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using ServerlessMemory.Core;

namespace ServerlessMemory.Api;

/// <summary>
/// The memory tools as an MCP server (Streamable HTTP, stateless) at <c>users/{userId}/mcp</c>:
/// <c>tools/list</c> gives the definitions of <c>GET /api/tools</c> and Letta's aliases,
/// <c>tools/call</c> runs one in that user's scope and commits it, as <c>POST tools/{name}</c> does.
/// Both hosts serve it through <see cref="MemoryApi.Mcp"/>, the SDK's server and stateless transport
/// behind the body gate every route has (<see cref="RequestBody"/>).
/// </summary>
public static class McpMemoryServer
{
    public const string RouteName = "Mcp";

    // Tool results are read by models: Chinese stays Chinese rather than \u escapes.
    private static readonly JsonSerializerOptions Readable = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>What <c>tools/list</c> answers: the chat model's tools (with the engine's limits), then the aliases dispatch accepts.</summary>
    public static IList<Tool> Tools(MemoryEngine engine) =>
    [
        .. engine.Tools.Concat(MemoryTools.AliasDefinitions)
            .Select(d => new Tool { Name = d.Name, Description = d.Description, InputSchema = d.Parameters }),
    ];

    /// <summary>
    /// Binds a server's options to one user: every call it serves reaches that user's memory only.
    /// A failing call is answered from <paramref name="request"/>'s problem table, as the other routes are.
    /// </summary>
    internal static void Configure(McpServerOptions options, string userId, HttpRequest request)
    {
        options.ServerInfo = new Implementation { Name = "serverless-memory", Title = "ServerlessMemory", Version = "1.0.0" };
        options.Capabilities ??= new ServerCapabilities();
        options.Capabilities.Tools ??= new ToolsCapability();
        options.ServerInstructions = "Long-term memory tools (MemGPT/Letta style): core memory blocks, a searchable archive and the conversation, of one user.";
        var tools = Tools(request.HttpContext.RequestServices.GetRequiredService<MemoryEngine>());
        options.Handlers.ListToolsHandler = (_, _) => ValueTask.FromResult(new ListToolsResult { Tools = tools });
        options.Handlers.CallToolHandler = (call, cancellationToken) =>
            CallAsync(request, userId, call.Params!, cancellationToken);
    }

    private static async ValueTask<CallToolResult> CallAsync(HttpRequest request, string userId, CallToolRequestParams call, CancellationToken cancellationToken)
    {
        if (!MemoryTools.Exists(call.Name))
            throw new McpProtocolException($"There is no memory tool '{call.Name}'.", McpErrorCode.InvalidParams);
        var arguments = JsonSerializer.SerializeToElement(call.Arguments ?? new Dictionary<string, JsonElement>(),
            (JsonTypeInfo<IDictionary<string, JsonElement>>)McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(IDictionary<string, JsonElement>)));
        var engine = request.HttpContext.RequestServices.GetRequiredService<MemoryEngine>();
        try
        {
            var result = await MemoryTools.InvokeAndCommitAsync(engine, userId, call.Name, arguments, cancellationToken);
            return new CallToolResult
            {
                Content = [new TextContentBlock { Text = result.ToJsonString(Readable) }],
                StructuredContent = JsonSerializer.SerializeToElement(result, McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(JsonNode))),
            };
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // A tool error the client's model can read: the problem every other route would answer, logged by the same rule.
            var problem = Problems.For(e, request);
            return ToolError(problem.Status == 400 ? problem.Detail : $"{problem.Title} {problem.Detail}");
        }
    }

    /// <summary>
    /// Why a <c>tools/call</c> cannot be run (params not an object, no tool of that name, arguments not
    /// an object), or null. Checked before the SDK's server sees the call: a call it fails to read or
    /// dispatch is logged by it with a stack trace (an unknown tool at Error), for what is only a client's mistake.
    /// </summary>
    internal static string? CallProblem(JsonRpcRequest request)
    {
        if (request.Method != RequestMethods.ToolsCall) return null;
        if (request.Params is not JsonObject call) return "'params' must be an object with the tool's 'name' and 'arguments'.";
        if (call["name"] is not JsonValue name || !name.TryGetValue<string>(out var tool)) return "'params.name' must be the name of a tool.";
        if (!MemoryTools.Exists(tool)) return $"There is no memory tool '{tool}'.";
        return call["arguments"] is null or JsonObject ? null : "'params.arguments' must be an object.";
    }

    private static CallToolResult ToolError(string message) =>
        new() { IsError = true, Content = [new TextContentBlock { Text = message }] };
}

public static partial class MemoryApi
{
    /// <summary>
    /// <c>POST users/{userId}/mcp</c>: one JSON-RPC message, read within the body limit as valid UTF-8
    /// JSON, over the SDK's stateless Streamable HTTP transport and a server bound to the user.
    /// </summary>
    public static Task<IResult> Mcp(HttpRequest request, string userId, CancellationToken cancellationToken) =>
        Run(request, userId, async (services, engine) =>
        {
            var accept = request.GetTypedHeaders().Accept;
            if (!accept.Any(a => a.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase))
                || !accept.Any(a => a.MediaType.Equals("text/event-stream", StringComparison.OrdinalIgnoreCase)))
                return TypedResults.Problem(statusCode: 406, title: "Not acceptable.", detail: "An MCP client accepts both application/json and text/event-stream.");
            var body = await RequestBody.ReadObjectAsync(request, engine.Limits.RequestBodyBytes, cancellationToken);
            JsonRpcMessage message;
            try
            {
                message = body.Deserialize((JsonTypeInfo<JsonRpcMessage>)McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(JsonRpcMessage)))
                    ?? throw new JsonException();
            }
            catch (JsonException)
            {
                throw new MemoryValidationException("body", "The body is not a JSON-RPC message.");
            }
            if (request.Headers["MCP-Protocol-Version"].ToString() is { Length: > 0 } version)
                message.Context = new JsonRpcMessageContext { ProtocolVersion = version };
            if (message is JsonRpcRequest call && McpMemoryServer.CallProblem(call) is { } problem)
                return await InvalidParams(request.HttpContext.Response, call, problem, cancellationToken);

            var loggers = services.GetRequiredService<ILoggerFactory>();
            var options = new McpServerOptions { ScopeRequests = false }; // the request's scope is the session's
            McpMemoryServer.Configure(options, userId, request);
            var transport = new StreamableHttpServerTransport(loggers) { Stateless = true };
            await using var server = McpServer.Create(transport, options, loggers, services);
            var running = server.RunAsync(cancellationToken);
            try
            {
                var response = request.HttpContext.Response;
                response.ContentType = "text/event-stream";
                response.Headers.CacheControl = "no-cache,no-store";
                if (!await transport.HandlePostRequestAsync(message, response.Body, cancellationToken))
                {
                    response.ContentType = null; // a notification: nothing to answer
                    response.StatusCode = StatusCodes.Status202Accepted;
                }
            }
            finally
            {
                await transport.DisposeAsync();
                await running;
            }
            return Results.Empty;
        });

    /// <summary>A JSON-RPC error -32602 for the request, as the transport answers: one SSE <c>message</c> event.</summary>
    private static async Task<IResult> InvalidParams(HttpResponse response, JsonRpcRequest request, string reason, CancellationToken cancellationToken)
    {
        JsonRpcMessage error = new JsonRpcError { Id = request.Id, Error = new JsonRpcErrorDetail { Code = (int)McpErrorCode.InvalidParams, Message = reason } };
        var json = JsonSerializer.Serialize(error, (JsonTypeInfo<JsonRpcMessage>)McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(JsonRpcMessage)));
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache,no-store";
        await response.WriteAsync($"event: message\ndata: {json}\n\n", cancellationToken);
        return Results.Empty;
    }
}
