using Microsoft.Extensions.Options;
using ServerlessMemory.Api;

namespace ServerlessMemory.Server;

internal static class HostingExtensions
{
    private const string DefaultUrl = "http://127.0.0.1:7071";

    /// <summary>
    /// Serves <c>127.0.0.1:7071</c> unless told otherwise (the port <c>func start</c> uses); with no
    /// key configured, any other address is narrowed to loopback, because the API would be open.
    /// </summary>
    public static void UseLoopbackUnlessKeyed(this IWebHostBuilder web, IConfiguration configuration)
    {
        var urls = configuration["urls"] ?? configuration["ASPNETCORE_URLS"] ?? DefaultUrl;
        var keyed = configuration.GetSection("Auth").Get<AuthOptions>()?.HasKeys ?? false;
        if (!keyed)
        {
            urls = string.Join(';', urls.Split(';', StringSplitOptions.RemoveEmptyEntries).Select(ToLoopback));
        }
        web.UseUrls(urls);
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
}
