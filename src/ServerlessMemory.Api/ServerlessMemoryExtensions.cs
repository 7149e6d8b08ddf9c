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
        HostDefaults.Apply(builder);
        var services = builder.Services;
        services.AddOptions<MemoryOptions>().BindConfiguration("Memory")
            .Validate(o => Enum.IsDefined(o.Store), EnumSettings.Store)
            .Validate(o => !string.IsNullOrWhiteSpace(o.SqlitePath), "Memory__SqlitePath is empty: set it to a file in a writable directory, e.g. data/memory.db.")
            .Validate(o => o.Sqlite.VectorCacheMegabytes >= 0, "Memory__Sqlite__VectorCacheMegabytes must not be negative: set a budget in MB.")
            .Validate(o => o.Sqlite.LexicalCacheMegabytes >= 0, "Memory__Sqlite__LexicalCacheMegabytes must not be negative: set a budget in MB.")
            .ValidateOnStart();
        services.AddOptions<MemoryLimits>().BindConfiguration("Memory:Limits")
            .Validate(o => o.StoreTimeout >= TimeSpan.Zero, "Memory__Limits__StoreTimeout must not be negative: a store call's deadline, e.g. 00:00:10.")
            .Validate(o => o.ImportBodyBytes > 0 && o.ImportChunkRecords > 0 && o.ImportChunkBytes > 0,
                "Memory__Limits__ImportBodyBytes, ImportChunkRecords and ImportChunkBytes must be positive.")
            .ValidateOnStart();
        services.AddOptions<SearchOptions>().BindConfiguration("Memory:Search")
            .Validate(o => o.VectorWeight is >= 0 and <= 1, "Memory__Search__VectorWeight must be from 0 to 1: the vector's share of what lexical relevance leaves, e.g. 0.2.")
            .Validate(o => o.CjkCharacterWeight is >= 0 and <= 1, "Memory__Search__CjkCharacterWeight must be from 0 to 1: a Chinese question's characters beside its bigrams, e.g. 0.4.")
            .Validate(o => o.ContextWeight is >= 0 and <= 1, "Memory__Search__ContextWeight must be from 0 to 1: what a message says around its question, e.g. 0.5.")
            .Validate(o => o.K1 is >= 0 and <= 10, "Memory__Search__K1 must be from 0 to 10: BM25's term-frequency saturation, e.g. 1.2.")
            .Validate(o => o.B is >= 0 and <= 1, "Memory__Search__B must be from 0 to 1: BM25's length normalisation, e.g. 0.65.")
            .Validate(o => o.MinLexicalRelevance is >= 0 and < 1 && o.MinVectorSimilarity is >= -1 and < 1,
                "Memory__Search__MinLexicalRelevance must be from 0 to under 1 and Memory__Search__MinVectorSimilarity from -1 to under 1.")
            .Validate(o => o.Candidates is > 0 and <= 1_000, "Memory__Search__Candidates must be from 1 to 1000: what each index gives a search, e.g. 50.")
            .Validate(o => o.EmbeddingTimeout > TimeSpan.Zero && o.EmbeddingPause >= TimeSpan.Zero,
                "Memory__Search__EmbeddingTimeout must be positive and Memory__Search__EmbeddingPause not negative, e.g. 00:00:03 and 00:00:30.")
            .ValidateOnStart();
        services.AddOptions<AccessOptions>().BindConfiguration("Memory:Accesses")
            .Validate(o => o.FlushInterval >= TimeSpan.Zero && o.MaxPending > 0, "Memory:Accesses needs a FlushInterval of zero or more and a positive MaxPending.")
            .ValidateOnStart();
        services.AddHostedService<AccessFlushService>();
        services.AddOptions<VectorBackfillOptions>().BindConfiguration("Memory:Backfill")
            .Validate(o => o.Interval >= TimeSpan.Zero && o.BatchSize is > 0 and <= 2048 && o.Budget > TimeSpan.Zero,
                "Memory:Backfill needs an Interval of zero (off) or more, a BatchSize from 1 to 2048 and a positive Budget.")
            .ValidateOnStart();
        services.AddOptions<DecayOptions>().BindConfiguration("Decay")
            .Validate(o => o.Threshold > 0 && o.Rates.Values.All(r => r >= 0), "Decay__Threshold must be positive and Decay__Rates__<type> not negative.")
            .Validate(o => DecaySchedule.TryParse(o.Schedule) is not null, "Decay__Schedule must be NCRONTAB with seconds (six fields), e.g. '0 0 * * * *' for hourly.")
            .ValidateOnStart();
        services.AddOptions<ModelOptions>().BindConfiguration("Model")
            .Validate(o => Enum.IsDefined(o.Provider), EnumSettings.Provider)
            .Validate(o => !o.IsAzure || !string.IsNullOrWhiteSpace(o.Endpoint),
                "Model__Endpoint must be set when Model__Provider is AzureOpenAI: set it to https://<name>.openai.azure.com/.")
            .Validate(o => !o.IsConfigured || string.IsNullOrWhiteSpace(o.Endpoint) || Uri.TryCreate(o.Endpoint, UriKind.Absolute, out var u) && u.Scheme is "http" or "https",
                "Model__Endpoint must be an http(s) URL, e.g. http://localhost:11434/v1.")
            .ValidateOnStart();
        services.AddOptions<ChatTurnOptions>().BindConfiguration("Chat");
        services.AddOptions<AuthOptions>().BindConfiguration("Auth");
        services.AddOptions<TelemetryOptions>().BindConfiguration("Telemetry");
        services.AddOptions<CosmosStoreOptions>().BindConfiguration("Cosmos")
            .PostConfigure<IOptions<ModelOptions>>((cosmos, model) => cosmos.EmbeddingDimensions = model.Value.EmbeddingDimensions);

        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<IMemoryStore>(sp =>
        {
            var options = sp.GetRequiredService<IOptions<MemoryOptions>>().Value;
            IMemoryStore store = options.Store switch
            {
                MemoryStoreKind.Sqlite => OpenSqlite(options.SqlitePath, options.Sqlite),
                MemoryStoreKind.Cosmos => new CosmosMemoryStore(sp.GetRequiredService<IOptions<CosmosStoreOptions>>().Value, sp.GetRequiredService<ILogger<CosmosMemoryStore>>()),
                _ => throw new SettingException(EnumSettings.Store),
            };
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
            return new ConfiguredModels(connection.ChatClient is null ? null : ModelClients.CreateChatModels(connection.ChatClient,
                sp.GetRequiredService<IOptions<ModelOptions>>().Value, sp.GetRequiredService<IOptions<ChatTurnOptions>>().Value,
                sp.GetRequiredService<IOptions<TelemetryOptions>>().Value.IncludeContent));
        });
        services.AddSingleton(sp => sp.GetRequiredService<ConfiguredModels>().Models is { } models
            ? ActivatorUtilities.CreateInstance<ChatAgent>(sp, models)
            : ActivatorUtilities.CreateInstance<ChatAgent>(sp));
        services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<ModelOptions>>().Value;
            var embedder = ModelClients.CreateEmbeddings(sp.GetRequiredService<ModelConnection>().Client, options,
                sp.GetRequiredService<IOptions<TelemetryOptions>>().Value.IncludeContent);
            // The deadline wraps whatever store is registered, so every route's store calls have one.
            var store = StoreDeadline.Wrap(sp.GetRequiredService<IMemoryStore>(), sp.GetRequiredService<IOptions<MemoryLimits>>().Value.StoreTimeout);
            // Every writer of a block (tools route, MCP, a chat turn) consolidates it with the same small model.
            var rewriter = sp.GetRequiredService<ConfiguredModels>().Models is { } models ? new BlockRewriter(models.Extraction, models.ExtractionModel) : null;
            object[] arguments = [store, .. embedder is null ? [] : new object[] { embedder }, .. rewriter is null ? [] : new object[] { rewriter }];
            return ActivatorUtilities.CreateInstance<MemoryEngine>(sp, arguments);
        });
        services.AddProblemDetails();
        services.AddExceptionHandler<BadRequestExceptionHandler>();
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.Converters.Add(new UtcMillisecondsConverter()));
        services.AddHostedService<StartupReport>();
        return builder;
    }

    private static SqliteMemoryStore OpenSqlite(string path, SqliteSettings settings)
    {
        try
        {
            return new SqliteMemoryStore(path, settings.VectorCacheMegabytes, settings.LexicalCacheMegabytes);
        }
        catch (Exception e) when (e is Microsoft.Data.Sqlite.SqliteException or IOException or UnauthorizedAccessException)
        {
            throw new SettingException($"Memory__SqlitePath '{Path.GetFullPath(path)}' cannot be opened for writing ({e.Message.Split('\n')[0].TrimEnd('.')}): set it to a file in a writable directory.", e);
        }
    }

    /// <summary>Maps every route of the API, with the key check its access level asks for.</summary>
    public static IEndpointRouteBuilder MapMemoryApi(this IEndpointRouteBuilder endpoints)
    {
        var api = endpoints.MapGroup("/api").AddEndpointFilter<ApiKeyFilter>();
        foreach (var route in ApiRoutes.All)
        {
            // MCP too: one handler for both hosts, so its body passes the same limit and encoding gate as every route's.
            var endpoint = api.MapMethods(route.Template, [route.Method], route.Handler);
            ApiDescriptions.Describe(route, endpoint);
            // JSON-RPC over SSE is more than endpoint metadata says: MemoryOpenApi writes its operation itself.
            if (route.Name == McpMemoryServer.RouteName) endpoint.ExcludeFromDescription();
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
}

/// <summary>The model clients, or none when <c>Model:Provider</c> is <c>None</c>; chat retries in its own pipeline.</summary>
public sealed record ModelConnection(OpenAI.OpenAIClient? Client, OpenAI.OpenAIClient? ChatClient);

/// <summary>The chat and extraction models, built once; null when no model is configured.</summary>
public sealed record ConfiguredModels(ChatModels? Models);
