using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using ServerlessMemory.Api;

namespace ServerlessMemory.Server;

/// <summary>The addresses asked for and those served (narrowed to loopback when no key is set).</summary>
internal sealed record ListenPlan(string Requested, string Served, bool Keyed)
{
    public bool Narrowed => Requested != Served;
}

internal static partial class HostingExtensions
{
    private const string DefaultUrl = "http://127.0.0.1:7071";

    /// <summary>
    /// Serves <c>127.0.0.1:7071</c> unless told otherwise (the port <c>func start</c> uses); with no
    /// key configured, any other address is narrowed to loopback, because the API would be open.
    /// </summary>
    public static ListenPlan UseLoopbackUnlessKeyed(this IWebHostBuilder web, IConfiguration configuration)
    {
        var requested = configuration["urls"] ?? configuration["ASPNETCORE_URLS"] ?? DefaultUrl;
        var keyed = configuration.GetSection("Auth").Get<AuthOptions>()?.HasKeys ?? false;
        var urls = keyed ? requested : string.Join(';', requested.Split(';', StringSplitOptions.RemoveEmptyEntries).Select(ToLoopback));
        web.UseUrls(urls);
        return new(requested, urls, keyed);
    }

    /// <summary>Once listening: where, whether keys are on, and a narrowed address said as such.</summary>
    public static void ReportAddresses(this WebApplication app, ListenPlan plan)
    {
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("ServerlessMemory.Server");
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            if (plan.Narrowed) LogNarrowed(logger, plan.Requested, plan.Served);
            var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses;
            LogServing(logger, string.Join(", ", addresses ?? [plan.Served]), plan.Keyed
                ? "keys required (x-functions-key or ?code=; the admin key for /api/admin)"
                : "no keys: loopback only");
        });
    }

    /// <summary>The request span's path is the route's template: user ids stay out of telemetry.</summary>
    public static void RedactPath(System.Diagnostics.Activity activity, HttpResponse response)
    {
        if (response.HttpContext.GetEndpoint() is RouteEndpoint { RoutePattern.RawText: { } template })
            activity.SetTag("url.path", "/" + template.TrimStart('/'));
        else
            activity.SetTag("url.path", null);
    }

    private static string ToLoopback(string url)
    {
        if (!Uri.TryCreate(url.Replace("://*", "://0.0.0.0", StringComparison.Ordinal).Replace("://+", "://0.0.0.0", StringComparison.Ordinal), UriKind.Absolute, out var uri))
            return url;
        return uri.IsLoopback ? url : new UriBuilder(uri) { Host = "127.0.0.1" }.Uri.ToString().TrimEnd('/');
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "No key is set, so {Requested} is narrowed to {Served}: set Auth__ApiKey (and Auth__AdminKey) to serve other addresses")]
    private static partial void LogNarrowed(ILogger logger, string requested, string served);

    [LoggerMessage(Level = LogLevel.Information, Message = "Serving {Addresses}; {Keys}")]
    private static partial void LogServing(ILogger logger, string addresses, string keys);
}
