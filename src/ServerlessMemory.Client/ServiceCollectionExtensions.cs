using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;
using Polly;

namespace ServerlessMemory.Client;

public static class ServerlessMemoryClientServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="ServerlessMemoryClient"/> as a typed HttpClient whose base address and keys
    /// come from the configuration section <paramref name="sectionName"/> (<c>BaseAddress</c>,
    /// <c>ApiKey</c>, <c>AdminKey</c>, ...), with the standard resilience pipeline of
    /// Microsoft.Extensions.Http.Resilience. Reads (GET, PUT, DELETE) retry transient failures;
    /// POSTs retry only a 429 or 503, which the service answers having changed nothing, never a
    /// timeout or a broken connection, after which a turn may have been stored. A <c>Retry-After</c>
    /// above <see cref="ServerlessMemoryClientOptions.MaxRetryAfter"/> is not waited for.
    /// </summary>
    public static IHttpClientBuilder AddServerlessMemoryClient(this IServiceCollection services, string sectionName = "ServerlessMemory",
        Action<ServerlessMemoryClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<ServerlessMemoryClientOptions>().BindConfiguration(sectionName);
        if (configure is not null) options.Configure(configure);
        options.Validate(o => o.BaseAddress is { IsAbsoluteUri: true }, $"{sectionName}:BaseAddress must be an absolute URI.")
            .Validate(o => o.AttemptTimeout > TimeSpan.Zero && o.MaxRetries >= 0, $"{sectionName}:AttemptTimeout must be positive and MaxRetries not negative.");

        var builder = services.AddHttpClient(nameof(ServerlessMemoryClient), (sp, http) =>
                http.BaseAddress = ServerlessMemoryClientOptions.Normalize(sp.GetRequiredService<IOptions<ServerlessMemoryClientOptions>>().Value.BaseAddress))
            .AddTypedClient((http, sp) => new ServerlessMemoryClient(http, sp.GetRequiredService<IOptions<ServerlessMemoryClientOptions>>().Value));
        builder.AddResilienceHandler("serverless-memory", (pipeline, context) =>
        {
            var o = context.ServiceProvider.GetRequiredService<IOptionsMonitor<ServerlessMemoryClientOptions>>().CurrentValue;
            var standard = new HttpStandardResilienceOptions();
            standard.AttemptTimeout.Timeout = o.AttemptTimeout;
            standard.TotalRequestTimeout.Timeout = o.AttemptTimeout * (o.MaxRetries + 1) + TimeSpan.FromSeconds(30);
            // An import runs as long as its document takes to send and store: the caller's token ends it, not a timeout.
            standard.AttemptTimeout.TimeoutGenerator = args => ValueTask.FromResult(IsLongTransfer(args.Context.GetRequestMessage()) ? Timeout.InfiniteTimeSpan : o.AttemptTimeout);
            var total = standard.TotalRequestTimeout.Timeout;
            standard.TotalRequestTimeout.TimeoutGenerator = args => ValueTask.FromResult(IsLongTransfer(args.Context.GetRequestMessage()) ? Timeout.InfiniteTimeSpan : total);
            standard.CircuitBreaker.SamplingDuration = o.AttemptTimeout * 2;
            standard.Retry.MaxRetryAttempts = Math.Max(1, o.MaxRetries);
            standard.Retry.Delay = o.RetryDelay;
            standard.Retry.ShouldHandle = args => ValueTask.FromResult(o.MaxRetries > 0 && ShouldRetry(args.Outcome, args.Context.GetRequestMessage(), o.MaxRetryAfter));

            pipeline.AddTimeout(standard.TotalRequestTimeout)
                .AddRetry(standard.Retry)
                .AddCircuitBreaker(standard.CircuitBreaker)
                .AddTimeout(standard.AttemptTimeout);
        });
        return builder;
    }

    /// <summary>Registers the client with a base address and key given in code.</summary>
    public static IHttpClientBuilder AddServerlessMemoryClient(this IServiceCollection services, Uri baseAddress, string? apiKey = null) =>
        services.AddServerlessMemoryClient(configure: o =>
        {
            o.BaseAddress = baseAddress;
            o.ApiKey = apiKey ?? o.ApiKey;
        });

    /// <summary>Marks a request that streams a document (an import): never retried (its body is read once, and part of it may have landed), never timed out.</summary>
    internal static readonly HttpRequestOptionsKey<bool> LongTransfer = new("ServerlessMemory.LongTransfer");

    private static bool IsLongTransfer(HttpRequestMessage? request) => request?.Options.TryGetValue(LongTransfer, out var yes) == true && yes;

    internal static bool ShouldRetry(Outcome<HttpResponseMessage> outcome, HttpRequestMessage? request, TimeSpan maxRetryAfter)
    {
        if (IsLongTransfer(request ?? outcome.Result?.RequestMessage)) return false;
        var idempotent = (request ?? outcome.Result?.RequestMessage)?.Method != HttpMethod.Post;
        if (outcome.Result is { } response)
        {
            var status = (int)response.StatusCode;
            if (ServerlessMemoryException.RetryAfterOf(response) is { } wait && wait > maxRetryAfter) return false;
            if (status is 429 or 503) return true;
            return idempotent && (status >= 500 || response.StatusCode == HttpStatusCode.RequestTimeout);
        }
        // A timeout or a broken connection: a POST may have been carried out, so only the others go again.
        return idempotent && outcome.Exception is HttpRequestException or TimeoutException or Polly.Timeout.TimeoutRejectedException;
    }
}
