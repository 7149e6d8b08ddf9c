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
/// The self-host serves it with the SDK's <c>MapMcp</c>; the Functions app through <see cref="MemoryApi.Mcp"/>.
/// </summary>
public static class McpMemoryServer
{
    public const string RouteName = "Mcp";

    // Tool results are read by models: Chinese stays Chinese rather than \u escapes.
    private static readonly JsonSerializerOptions Readable = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>What <c>tools/list</c> answers: the chat model's tools, then the aliases dispatch accepts.</summary>
    public static IList<Tool> Tools { get; } =
    [
        .. MemoryTools.Definitions.Concat(MemoryTools.AliasDefinitions)
            .Select(d => new Tool { Name = d.Name, Description = d.Description, InputSchema = d.Parameters }),
    ];

    /// <summary>Binds a server's options to one user: every call it serves reaches that user's memory only.</summary>
    public static void Configure(McpServerOptions options, string userId)
    {
        options.ServerInfo = new Implementation { Name = "serverless-memory", Title = "ServerlessMemory", Version = "1.0.0" };
        options.Capabilities ??= new ServerCapabilities();
        options.Capabilities.Tools ??= new ToolsCapability();
        options.ServerInstructions = "Long-term memory tools (MemGPT/Letta style): core memory blocks, a searchable archive and the conversation, of one user.";
        options.Handlers.ListToolsHandler = (_, _) => ValueTask.FromResult(new ListToolsResult { Tools = Tools });
        options.Handlers.CallToolHandler = (request, cancellationToken) =>
            CallAsync(request.Services ?? throw new InvalidOperationException("The MCP server has no services."), userId, request.Params!, cancellationToken);
    }

    private static async ValueTask<CallToolResult> CallAsync(IServiceProvider services, string userId, CallToolRequestParams call, CancellationToken cancellationToken)
    {
        if (!MemoryTools.Exists(call.Name))
            throw new McpProtocolException($"There is no memory tool '{call.Name}'.", McpErrorCode.InvalidParams);
        var arguments = JsonSerializer.SerializeToElement(call.Arguments ?? new Dictionary<string, JsonElement>(),
            (JsonTypeInfo<IDictionary<string, JsonElement>>)McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(IDictionary<string, JsonElement>)));
        var engine = services.GetRequiredService<MemoryEngine>();
        try
        {
            var result = await MemoryTools.InvokeAndCommitAsync(engine, userId, call.Name, arguments, cancellationToken);
            return new CallToolResult
            {
                Content = [new TextContentBlock { Text = result.ToJsonString(Readable) }],
                StructuredContent = JsonSerializer.SerializeToElement(result, McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(JsonNode))),
            };
        }
        catch (Exception e) when (e is MemoryValidationException or MemoryNotFoundException)
        {
            return ToolError(e.Message);
        }
        catch (MemoryConflictException e)
        {
            return ToolError(e.Message + " Nothing was changed; call the tool again.");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(McpMemoryServer)).LogError(e, "MCP tool {Tool} failed", call.Name);
            return ToolError("The tool failed; nothing was changed. See the service's logs.");
        }
    }

    private static CallToolResult ToolError(string message) =>
        new() { IsError = true, Content = [new TextContentBlock { Text = message }] };
}

public static partial class MemoryApi
{
    private static readonly IResult Pass = Results.Empty;

    /// <summary>The checks every user route makes (the user id, the principal), for the SDK's MCP endpoint in the self-host.</summary>
    internal static async ValueTask<object?> McpGate(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var userId = context.HttpContext.Request.RouteValues["userId"]?.ToString() ?? "";
        var gate = await Run(context.HttpContext.Request, userId, (_, _) => Task.FromResult(Pass));
        return ReferenceEquals(gate, Pass) ? await next(context) : gate;
    }

    /// <summary>
    /// <c>POST users/{userId}/mcp</c> for the Functions app: one JSON-RPC message over the SDK's
    /// stateless Streamable HTTP transport and a server bound to the user, as <c>MapMcp</c> serves it.
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

            var loggers = services.GetRequiredService<ILoggerFactory>();
            var options = new McpServerOptions { ScopeRequests = false }; // the request's scope is the session's
            McpMemoryServer.Configure(options, userId);
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
}
