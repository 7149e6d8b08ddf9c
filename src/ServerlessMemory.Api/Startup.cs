using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using NCrontab;
using ServerlessMemory.Core;
using ServerlessMemory.Cosmos;

namespace ServerlessMemory.Api;

/// <summary>A setting that cannot work; its message names the setting (as an environment variable) and the fix.</summary>
public sealed class SettingException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Writes every time as <see cref="UtcTime"/> does: what a POST answers is what a GET reads back.</summary>
public sealed class UtcMillisecondsConverter : JsonConverter<DateTimeOffset>
{
    public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.GetDateTimeOffset();

    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options) =>
        writer.WriteStringValue(UtcTime.ToText(value));
}

/// <summary>Start-up: settings checked before the host starts, and what the service runs on, one line each.</summary>
public static partial class ServerlessMemoryStartup
{
    /// <summary>
    /// Checks the settings and opens the store, then runs the host. A bad setting prints one line
    /// naming it and the fix, and the process exits 2 instead of dying with a stack trace.
    /// </summary>
    public static int RunServerlessMemory(this IHost host)
    {
        try
        {
            CheckSettings(host.Services);
        }
        catch (SettingException e)
        {
            Console.Error.WriteLine($"ServerlessMemory cannot start: {e.Message}");
            return 2;
        }
        host.Run();
        return 0;
    }

    /// <summary>The problem+json parts of the pipeline: unhandled exceptions and empty error answers (404, 405, Kestrel's 4xx).</summary>
    public static IApplicationBuilder UseServerlessMemoryErrors(this IApplicationBuilder app) =>
        app.UseExceptionHandler().UseStatusCodePages();

    public static void CheckSettings(IServiceProvider services)
    {
        try
        {
            services.GetService<IStartupValidator>()?.Validate();
        }
        catch (OptionsValidationException e)
        {
            throw new SettingException(string.Join(" ", e.Failures.Distinct()), e);
        }
        catch (InvalidOperationException e) when (EnumSettings.Unreadable(services.GetRequiredService<IConfiguration>()) is { } message)
        {
            // The binder could not read an enum setting at all (a name that is none of its values).
            throw new SettingException(message, e);
        }
        services.GetRequiredService<IMemoryStore>();
        services.GetRequiredService<ModelConnection>();
    }

    /// <summary>What the service runs on, without a key: the store and where, the models, the decay schedule.</summary>
    public static IEnumerable<string> Describe(IServiceProvider services)
    {
        var memory = services.GetRequiredService<IOptions<MemoryOptions>>().Value;
        if (memory.Store == MemoryStoreKind.Cosmos)
        {
            var cosmos = services.GetRequiredService<IOptions<CosmosStoreOptions>>().Value;
            var host = Uri.TryCreate(cosmos.Endpoint, UriKind.Absolute, out var uri) ? uri.Authority : cosmos.Endpoint;
            yield return $"Store: Cosmos DB account {host}, database '{cosmos.Database}', container '{cosmos.Container}' ({(string.IsNullOrEmpty(cosmos.Key) ? "DefaultAzureCredential" : "account key")})";
        }
        else
        {
            yield return $"Store: SQLite file {Path.GetFullPath(memory.SqlitePath)}";
        }

        var model = services.GetRequiredService<IOptions<ModelOptions>>().Value;
        if (!model.IsConfigured)
        {
            yield return "Model: none (Model__Provider=None): chat answers 501, search is lexical only";
        }
        else
        {
            var at = Uri.TryCreate(model.Endpoint, UriKind.Absolute, out var endpoint) ? endpoint.Authority : "api.openai.com";
            var embeddings = string.IsNullOrWhiteSpace(model.EmbeddingModel) ? "no embeddings (lexical search)" : $"embeddings {model.EmbeddingModel} ({model.EmbeddingDimensions} dimensions)";
            var credential = model.IsAzure && string.IsNullOrEmpty(model.ApiKey) ? ", DefaultAzureCredential" : "";
            yield return $"Model: {model.Provider} at {at}{credential}; chat {model.ChatModel}, extraction {model.ExtractionModel}, {embeddings}";
        }

        var decay = services.GetRequiredService<IOptions<DecayOptions>>().Value;
        var next = CrontabSchedule.TryParse(decay.Schedule, new CrontabSchedule.ParseOptions { IncludingSeconds = true })
            ?.GetNextOccurrence(services.GetRequiredService<TimeProvider>().GetUtcNow().UtcDateTime);
        yield return $"Decay sweep: '{decay.Schedule}' (Decay__Schedule){(next is { } n ? $", next at {UtcTime.ToText(new DateTimeOffset(n, TimeSpan.Zero))}" : "")}";
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Line}")]
    internal static partial void LogLine(ILogger logger, string line);
}

/// <summary>Says at start what the service runs on (both hosts run it).</summary>
internal sealed class StartupReport(IServiceProvider services, ILogger<StartupReport> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var line in ServerlessMemoryStartup.Describe(services)) ServerlessMemoryStartup.LogLine(logger, line);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>
/// Kestrel's own verdicts on a request that reach the pipeline (a body too slow, too short or too
/// large) as problem+json with their status, logged below Error: they are the client's doing.
/// </summary>
internal sealed partial class BadRequestExceptionHandler(IProblemDetailsService problems, ILogger<BadRequestExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not BadHttpRequestException bad) return false;
        LogRejected(logger, httpContext.Request.Method, httpContext.Request.Path.ToString(), bad.StatusCode, bad.Message);
        httpContext.Response.StatusCode = bad.StatusCode;
        return await problems.TryWriteAsync(new()
        {
            HttpContext = httpContext,
            Exception = exception,
            ProblemDetails = { Status = bad.StatusCode, Title = "The request could not be read.", Detail = "Nothing was changed." },
        });
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Method} {Path}: the request was rejected ({Status}): {Reason}")]
    private static partial void LogRejected(ILogger logger, string method, string path, int status, string reason);
}
