using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.OpenApi;

namespace ServerlessMemory.Api;

/// <summary>
/// The OpenAPI document. The self-host's build generates it from its endpoints
/// (Microsoft.Extensions.ApiDescription.Server) into <c>src/ServerlessMemory.Api/openapi.json</c>,
/// which this assembly embeds: both hosts serve that one file at <c>GET /api/openapi.json</c>.
/// </summary>
public static class MemoryOpenApi
{
    public const string ResourceName = "ServerlessMemory.Api.openapi.json";

    private static readonly Lazy<byte[]> Embedded = new(() =>
    {
        using var stream = typeof(MemoryOpenApi).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"{ResourceName} is not embedded: build src/ServerlessMemory.Server to generate it.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    });

    /// <summary>The document as built into this assembly.</summary>
    public static ReadOnlyMemory<byte> Document => Embedded.Value;

    /// <summary>The generator's settings: what the self-host registers, and the build runs.</summary>
    public static IServiceCollection AddMemoryOpenApi(this IServiceCollection services) =>
        services.AddOpenApi(options =>
        {
            options.OpenApiVersion = OpenApiSpecVersion.OpenApi3_1;
            options.AddDocumentTransformer((document, _, _) =>
            {
                document.Info = new OpenApiInfo
                {
                    Title = "ServerlessMemory",
                    Version = "v1",
                    Description = "Long-term memory for chat agents: core memory blocks, archive memory, the conversation, memory tools, an MCP server. " +
                                  "Keys: x-functions-key (or ?code=) on every route but health and this document; /api/admin/* needs the admin key.",
                };
                document.Servers = [];
                AddMcp(document);
                return Task.CompletedTask;
            });
            options.AddOperationTransformer((operation, context, _) =>
            {
                // A catch-all ({*path}) is read by its handler from the request's path, so no binding describes it.
                if (context.Description.RelativePath is { } relative && (relative.Contains("{path}", StringComparison.Ordinal) || relative.Contains("{*path}", StringComparison.Ordinal))
                    && operation.Parameters?.Any(p => p.Name == "path") != true)
                {
                    operation.Parameters ??= [];
                    operation.Parameters.Add(new OpenApiParameter
                    {
                        Name = "path", In = ParameterLocation.Path, Required = true, Description = "A file of the page; empty for the page itself.",
                        Schema = new OpenApiSchema { Type = JsonSchemaType.String },
                    });
                }
                if (context.Description.ActionDescriptor.EndpointMetadata.OfType<ApiQueryParameter>().ToList() is not { Count: > 0 } query) return Task.CompletedTask;
                operation.Parameters ??= [];
                foreach (var q in query)
                {
                    operation.Parameters.Add(new OpenApiParameter
                    {
                        Name = q.Name,
                        In = ParameterLocation.Query,
                        Description = q.Description,
                        Schema = new OpenApiSchema { Type = q.Type switch { "integer" => JsonSchemaType.Integer, "boolean" => JsonSchemaType.Boolean, _ => JsonSchemaType.String } },
                    });
                }
                return Task.CompletedTask;
            });
        });

    /// <summary>
    /// The MCP route: JSON-RPC answered as one Server-Sent Event is more than endpoint metadata can say,
    /// so its endpoint is left out of discovery and its operation is written here.
    /// </summary>
    private static void AddMcp(OpenApiDocument document)
    {
        var route = ApiRoutes.Get(McpMemoryServer.RouteName);
        var path = "/api/" + route.Template;
        if (document.Paths.ContainsKey(path)) return;
        var problem = new OpenApiSchemaReference("ProblemDetails", document);
        OpenApiResponse Problem(string description) => new()
        {
            Description = description,
            Content = new Dictionary<string, OpenApiMediaType> { ["application/problem+json"] = new() { Schema = problem } },
        };
        var operation = new OpenApiOperation
        {
            OperationId = route.Name,
            Summary = "MCP server (Streamable HTTP, JSON-RPC 2.0, stateless) with the user's memory tools",
            Description = "initialize, tools/list (the tools of GET /api/tools and Letta's aliases), tools/call in the user's scope. " +
                          "Accept must list application/json and text/event-stream; a notification answers 202.",
            Tags = new HashSet<OpenApiTagReference> { new("mcp", document) },
            Parameters =
            [
                new OpenApiParameter { Name = "userId", In = ParameterLocation.Path, Required = true, Schema = new OpenApiSchema { Type = JsonSchemaType.String } },
            ],
            RequestBody = new OpenApiRequestBody
            {
                Required = true,
                Description = "One JSON-RPC 2.0 message.",
                Content = new Dictionary<string, OpenApiMediaType> { ["application/json"] = new() { Schema = new OpenApiSchema { Type = JsonSchemaType.Object } } },
            },
            Responses = new OpenApiResponses
            {
                ["200"] = new OpenApiResponse
                {
                    Description = "The JSON-RPC response, as one Server-Sent Event 'message'.",
                    Content = new Dictionary<string, OpenApiMediaType> { ["text/event-stream"] = new() { Schema = new OpenApiSchema { Type = JsonSchemaType.String } } },
                },
                ["202"] = new OpenApiResponse { Description = "A notification was accepted." },
                ["400"] = Problem("A bad user id, or a body that is not a JSON-RPC message."),
                ["401"] = Problem("A valid key is required."),
                ["403"] = Problem("The user belongs to another principal."),
                ["406"] = Problem("Accept does not list both application/json and text/event-stream."),
            },
        };
        document.Paths[path] = new OpenApiPathItem { Operations = new Dictionary<HttpMethod, OpenApiOperation> { [HttpMethod.Post] = operation } };
        document.Tags ??= new HashSet<OpenApiTag>();
        if (!document.Tags.Any(t => t.Name == "mcp")) document.Tags.Add(new OpenApiTag { Name = "mcp" });
    }
}

public static partial class MemoryApi
{
    public static Task<IResult> OpenApi(HttpRequest request, CancellationToken cancellationToken) =>
        Task.FromResult<IResult>(TypedResults.Bytes(MemoryOpenApi.Document.ToArray(), "application/json"));
}
