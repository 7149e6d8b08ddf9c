using System.Collections.Frozen;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Http;

namespace ServerlessMemory.Api;

/// <summary>
/// The inspector's static files (<c>src/ServerlessMemory.Api/Inspector</c>), embedded in this assembly
/// and served as they are: no data, no key, nothing built. Every call the page makes goes through the API.
/// </summary>
public static class InspectorPage
{
    /// <summary>
    /// Scripts and styles only from the page's own origin (no inline script or style, no eval), calls
    /// only to the API beside it, never framed: memory content is untrusted and the page renders it as
    /// text, and this policy is the second line should that ever slip.
    /// </summary>
    public const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    private const string ResourcePrefix = "ServerlessMemory.Api.Inspector.";

    private static readonly FrozenDictionary<string, Asset> Assets = Load();

    /// <summary>The file names served under <c>/api/inspector/</c>.</summary>
    public static IEnumerable<string> Names => Assets.Keys;

    private sealed record Asset(byte[] Content, string ContentType, string ETag);

    private static FrozenDictionary<string, Asset> Load()
    {
        var assembly = typeof(InspectorPage).Assembly;
        var assets = new Dictionary<string, Asset>(StringComparer.Ordinal);
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            var content = copy.ToArray();
            var name = resource[ResourcePrefix.Length..];
            var type = Path.GetExtension(name) switch
            {
                ".html" => "text/html; charset=utf-8",
                ".js" => "text/javascript; charset=utf-8",
                ".css" => "text/css; charset=utf-8",
                ".svg" => "image/svg+xml",
                _ => "application/octet-stream",
            };
            assets[name] = new(content, type, $"\"{Convert.ToHexStringLower(SHA256.HashData(content))[..16]}\"");
        }
        return assets.ToFrozenDictionary(StringComparer.Ordinal);
    }

    /// <summary>
    /// <c>GET /api/inspector/{*path}</c>: the file the path names (<c>index.html</c> for the folder
    /// itself). The name is read from the request's path rather than bound, so both hosts resolve it alike.
    /// </summary>
    internal static IResult Serve(HttpRequest request)
    {
        var path = request.Path.Value ?? "";
        var at = path.IndexOf("/inspector", StringComparison.Ordinal); // the route's own segment comes first
        var rest = at < 0 ? "/" : path[(at + "/inspector".Length)..];
        // Relative module and API addresses need the trailing slash.
        if (rest.Length == 0) return TypedResults.Redirect(request.PathBase + path + "/");
        var name = rest == "/" ? "index.html" : rest.TrimStart('/');
        if (!Assets.TryGetValue(name, out var asset))
            return TypedResults.Problem(statusCode: 404, title: "Not found.", detail: "The inspector has no such file.");

        var headers = request.HttpContext.Response.Headers;
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
        headers["Cross-Origin-Opener-Policy"] = "same-origin";
        headers["Cross-Origin-Resource-Policy"] = "same-origin";
        headers.CacheControl = "no-cache";
        headers.ETag = asset.ETag;
        return request.Headers.IfNoneMatch.ToString() == asset.ETag
            ? TypedResults.StatusCode(304)
            : TypedResults.Bytes(asset.Content, asset.ContentType);
    }
}

public static partial class MemoryApi
{
    /// <summary>The inspector page and its scripts and styles; no key (they hold no data).</summary>
    public static Task<IResult> Inspector(HttpRequest request, CancellationToken cancellationToken) =>
        Task.FromResult(InspectorPage.Serve(request));
}
