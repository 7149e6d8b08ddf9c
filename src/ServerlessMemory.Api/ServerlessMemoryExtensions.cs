using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ServerlessMemory.Core;
using ServerlessMemory.Cosmos;
using ServerlessMemory.Sqlite;

namespace ServerlessMemory.Api;

public static class ServerlessMemoryExtensions
{
    /// <summary>The composition root both hosts call: options, the store and the models, chosen by settings.</summary>
    public static IHostApplicationBuilder AddServerlessMemory(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<MemoryOptions>().BindConfiguration("Memory")
            .Validate(o => o.Store is "Sqlite" or "sqlite" or "Cosmos" or "cosmos", "Memory:Store must be Sqlite or Cosmos.")
            .Validate(o => o.Sqlite.VectorCacheMegabytes >= 0, "Memory:Sqlite:VectorCacheMegabytes must not be negative.").ValidateOnStart();
        services.AddOptions<MemoryLimits>().BindConfiguration("Memory:Limits");
        services.AddOptions<SearchOptions>().BindConfiguration("Memory:Search");
        services.AddOptions<AccessOptions>().BindConfiguration("Memory:Accesses")
            .Validate(o => o.FlushInterval >= TimeSpan.Zero && o.MaxPending > 0, "Memory:Accesses needs a FlushInterval of zero or more and a positive MaxPending.")
            .ValidateOnStart();
        services.AddHostedService<AccessFlushService>();
        services.AddOptions<DecayOptions>().BindConfiguration("Decay")
            .Validate(o => o.Threshold > 0 && o.Rates.Values.All(r => r >= 0), "Decay:Threshold must be positive and rates not negative.")
            .Validate(o => DecaySchedule.TryParse(o.Schedule) is not null, "Decay:Schedule must be an NCRONTAB expression with seconds.")
            .ValidateOnStart();
        services.AddOptions<ModelOptions>().BindConfiguration("Model");
        services.AddOptions<ChatTurnOptions>().BindConfiguration("Chat");
        services.AddOptions<AuthOptions>().BindConfiguration("Auth");
        services.AddOptions<TelemetryOptions>().BindConfiguration("Telemetry");
        services.AddOptions<CosmosStoreOptions>().BindConfiguration("Cosmos")
            .PostConfigure<IOptions<ModelOptions>>((cosmos, model) => cosmos.EmbeddingDimensions = model.Value.EmbeddingDimensions);

        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<IMemoryStore>(sp =>
        {
            var options = sp.GetRequiredService<IOptions<MemoryOptions>>().Value;
            IMemoryStore store = options.Store.Equals("Sqlite", StringComparison.OrdinalIgnoreCase)
                ? new SqliteMemoryStore(options.SqlitePath, options.Sqlite.VectorCacheMegabytes)
                : new CosmosMemoryStore(sp.GetRequiredService<IOptions<CosmosStoreOptions>>().Value, sp.GetRequiredService<ILogger<CosmosMemoryStore>>());
            return MemoryTelemetry.Traced(store);
        });
        services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<ModelOptions>>().Value;
            return new ModelConnection(options.IsConfigured ? ModelClients.CreateClient(options) : null,
                options.IsConfigured ? ModelClients.CreateClient(options, retries: 0) : null);
        });
        services.AddSingleton(sp =>
        {
            var connection = sp.GetRequiredService<ModelConnection>();
            var models = connection.ChatClient is null ? null : ModelClients.CreateChatModels(connection.ChatClient,
                sp.GetRequiredService<IOptions<ModelOptions>>().Value, sp.GetRequiredService<IOptions<ChatTurnOptions>>().Value,
                sp.GetRequiredService<IOptions<TelemetryOptions>>().Value.IncludeContent);
            return ActivatorUtilities.CreateInstance<ChatAgent>(sp, models is null ? [] : [models]);
        });
        services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<ModelOptions>>().Value;
            var embedder = ModelClients.CreateEmbeddings(sp.GetRequiredService<ModelConnection>().Client, options,
                sp.GetRequiredService<IOptions<TelemetryOptions>>().Value.IncludeContent);
            return ActivatorUtilities.CreateInstance<MemoryEngine>(sp, embedder is null ? [] : [embedder]);
        });
        services.AddProblemDetails();
        // MapMcp's server: stateless (no session outlives a request, as on Functions), bound per request to {userId}.
        services.AddMcpServer().WithHttpTransport(http =>
        {
            http.Stateless = true;
            http.ConfigureSessionOptions = (context, options, _) =>
            {
                McpMemoryServer.Configure(options, context.Request.RouteValues["userId"]?.ToString() ?? "");
                return Task.CompletedTask;
            };
        });
        return builder;
    }

    /// <summary>Maps every route of the API, with the key check its access level asks for.</summary>
    public static IEndpointRouteBuilder MapMemoryApi(this IEndpointRouteBuilder endpoints)
    {
        var api = endpoints.MapGroup("/api").AddEndpointFilter<ApiKeyFilter>();
        foreach (var route in ApiRoutes.All)
        {
            var endpoint = route.Name == McpMemoryServer.RouteName
                ? api.MapMcp(route.Template).AddEndpointFilter(MemoryApi.McpGate) // the SDK's Streamable HTTP handler
                : api.MapMethods(route.Template, [route.Method], Handlers[route.Name]);
            ApiDescriptions.Describe(route, endpoint);
            endpoint
                .WithName(route.Name)
                .WithMetadata(route)
                .WithTags(route.Template.Split('/') switch
                {
                    ["users", _, "memory", var kind, ..] => kind,
                    ["users", _, var what, ..] => what,
                    [var first, ..] => first,
                    _ => "api",
                });
        }
        return endpoints;
    }

    private static readonly Dictionary<string, Delegate> Handlers = new()
    {
        ["Health"] = MemoryApi.Health,
        ["Chat"] = MemoryApi.Chat,
        ["Context"] = MemoryApi.Context,
        ["Turns"] = MemoryApi.Turns,
        ["GetCoreMemory"] = MemoryApi.GetCoreMemory,
        ["PutCoreBlock"] = MemoryApi.PutCoreBlock,
        ["DeleteCoreBlock"] = MemoryApi.DeleteCoreBlock,
        ["AddArchiveItem"] = MemoryApi.AddArchiveItem,
        ["SearchArchive"] = MemoryApi.SearchArchive,
        ["GetArchiveItem"] = MemoryApi.GetArchiveItem,
        ["DeleteArchiveItem"] = MemoryApi.DeleteArchiveItem,
        ["ListMessages"] = MemoryApi.ListMessages,
        ["DeleteUser"] = MemoryApi.DeleteUser,
        ["ListTools"] = MemoryApi.ListTools,
        ["InvokeTool"] = MemoryApi.InvokeTool,
        ["RunDecaySweep"] = MemoryApi.RunDecaySweep,
        ["Mcp"] = MemoryApi.Mcp,
        ["OpenApi"] = MemoryApi.OpenApi,
    };
}

/// <summary>The model client, or none when <c>Model:Provider</c> is <c>None</c>.</summary>
/// <summary>The model clients, or none when <c>Model:Provider</c> is <c>None</c>; chat retries in its own pipeline.</summary>
public sealed record ModelConnection(OpenAI.OpenAIClient? Client, OpenAI.OpenAIClient? ChatClient);
