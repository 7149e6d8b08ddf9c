using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace ServerlessMemory.Tests.Api;

/// <summary>
/// The self-host on a real Kestrel socket on loopback, with its own SQLite file, a settable clock
/// and any settings a test gives. Tests talk to it over HTTP, as a user would.
/// </summary>
public sealed class ServiceFactory : WebApplicationFactory<Program>
{
    private readonly string _directory = Directory.CreateTempSubdirectory("sm-api-").FullName;
    private readonly Lock _start = new();

    public ServiceFactory()
    {
        Settings = new()
        {
            ["Memory:SqlitePath"] = Path.Combine(_directory, "memory.db"),
            ["Decay:Schedule"] = "0 0 0 1 1 *",
            ["Logging:LogLevel:Default"] = "Warning",
            // These tests read access counts right after a search and run on a fake clock, so accesses
            // are written with each search; AccessRecorderTests pin the coalesced path, the default.
            ["Memory:Accesses:FlushInterval"] = "00:00:00",
        };
        UseKestrel(0);
    }

    /// <summary>Settings of the service; change them before the first client is made.</summary>
    public Dictionary<string, string?> Settings { get; }

    /// <summary>More services for a test (exporters, fakes); set before the first client is made.</summary>
    public Action<IServiceCollection>? TestServices { get; set; }

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 3, 1, 8, 0, 0, TimeSpan.Zero));

    /// <summary>What the service logged, at the levels <c>Logging:LogLevel</c> lets through (Warning by default).</summary>
    public CapturedLogs Logs { get; } = new();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        foreach (var (key, value) in Settings) builder.UseSetting(key, value);
        builder.ConfigureTestServices(services =>
        {
            services.AddSingleton<TimeProvider>(Time);
            TestServices?.Invoke(services);
            services.AddSingleton<Microsoft.Extensions.Logging.ILoggerProvider>(Logs);
        });
    }

    public HttpClient Client(string? key = null)
    {
        HttpClient client;
        // The first client starts the server, which is not safe to do from two threads at once (tests
        // that make their clients in parallel saw "Addresses cannot be modified after the server has started").
        lock (_start) client = CreateClient();
        if (key is not null) client.DefaultRequestHeaders.Add("x-functions-key", key);
        return client;
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { }
    }
}

internal static class HttpAssert
{
    /// <summary>Asserts a problem+json answer with this status and returns its body.</summary>
    public static async Task<JsonObject> Problem(HttpResponseMessage response, int status)
    {
        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var body = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal(status, (int)body["status"]!);
        Assert.False(string.IsNullOrEmpty((string?)body["title"]));
        Assert.DoesNotContain("   at ", body.ToJsonString(), StringComparison.Ordinal);
        return body;
    }

    public static async Task<JsonObject> Ok(HttpResponseMessage response, int status = 200)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == (int)response.StatusCode, $"Expected {status}, got {(int)response.StatusCode}: {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    public static StringContent Json(string json) => new(json, System.Text.Encoding.UTF8, "application/json");
}
