using System.Collections.Concurrent;
using System.Diagnostics;
using System.IO.Compression;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ServerlessMemory.Tests.Functions.Host;
using ServerlessMemory.Tests.Scripted;
using static ServerlessMemory.Tests.Api.HttpAssert;
using static ServerlessMemory.Tests.Chat.ChatRequests;

namespace ServerlessMemory.Tests.Ecosystem;

/// <summary>
/// Application Insights' ingestion endpoint on loopback, as the Azure Monitor exporter talks to it:
/// <c>POST v2.1/track</c> with telemetry items as JSON lines (gzipped), answered with the counts
/// accepted; Live Metrics' ping and post answered as "nobody is watching".
/// </summary>
public sealed class FakeApplicationInsights : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FakeApplicationInsights(WebApplication app) => _app = app;

    /// <summary>Every telemetry item received (<c>name</c>, <c>time</c>, <c>tags</c>, <c>data.baseType</c>, <c>data.baseData</c>).</summary>
    public ConcurrentQueue<JsonObject> Items { get; } = new();

    public Uri BaseAddress => new(_app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/");

    public static async Task<FakeApplicationInsights> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var fake = new FakeApplicationInsights(app);
        app.MapPost("/v2.1/track", fake.Track);
        app.MapPost("/QuickPulseService.svc/{operation}", (HttpResponse response) =>
        {
            response.Headers["x-ms-qps-subscribed"] = "false";
            return Results.Ok();
        });
        await app.StartAsync();
        return fake;
    }

    private async Task<IResult> Track(HttpRequest request)
    {
        var body = request.Headers.ContentEncoding.ToString().Contains("gzip", StringComparison.OrdinalIgnoreCase)
            ? new GZipStream(request.Body, CompressionMode.Decompress)
            : request.Body;
        using var reader = new StreamReader(body);
        var received = 0;
        while (await reader.ReadLineAsync() is { } line)
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            Items.Enqueue(JsonNode.Parse(line)!.AsObject());
            received++;
        }
        return Results.Json(new JsonObject { ["itemsReceived"] = received, ["itemsAccepted"] = received, ["errors"] = new JsonArray() });
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}

/// <summary>
/// The built Functions app with <c>APPLICATIONINSIGHTS_CONNECTION_STRING</c> naming the fake
/// ingestion endpoint: Program.cs's own Azure Monitor exporter, nothing added.
/// </summary>
public sealed class AzureMonitorFunctionsAppFixture : FunctionsAppFixture, IAsyncLifetime
{
    public ScriptedModelServer Model { get; private set; } = null!;

    public FakeApplicationInsights Ingestion { get; private set; } = null!;

    public new async Task InitializeAsync()
    {
        Model = await ScriptedModelServer.StartAsync();
        Ingestion = await FakeApplicationInsights.StartAsync();
        await base.InitializeAsync();
    }

    public new async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Ingestion.DisposeAsync();
        await Model.DisposeAsync();
    }

    protected override FunctionsWorkerHostOptions Configure(FunctionsWorkerHostOptions options) => options with
    {
        FunctionKey = TracedFunctionsAppFixture.FunctionKey,
        Settings = new Dictionary<string, string?>(options.Settings)
        {
            ["Model__Provider"] = "OpenAI",
            ["Model__Endpoint"] = Model.BaseUrl + "/v1",
            ["Model__ApiKey"] = TracedFunctionsAppFixture.ModelKey,
            ["Model__EmbeddingModel"] = "",
            ["Model__MaxRetries"] = "1",
            ["APPLICATIONINSIGHTS_CONNECTION_STRING"] =
                $"InstrumentationKey={Guid.NewGuid()};IngestionEndpoint={Ingestion.BaseAddress};LiveEndpoint={Ingestion.BaseAddress}",
            // The exporter's own usage reports go to a fixed Azure endpoint: not from a test.
            ["APPLICATIONINSIGHTS_STATSBEAT_DISABLED"] = "true",
        },
    };
}

/// <summary>A chat turn's spans as the Functions app sends them to Application Insights, through the worker test host.</summary>
public sealed class FunctionsHostAzureMonitorTests(AzureMonitorFunctionsAppFixture app) : IClassFixture<AzureMonitorFunctionsAppFixture>
{
    private const string Secret = "my secret churn project with XGBoost";

    [Fact]
    public async Task A_turn_reaches_application_insights_as_the_invocation_turn_model_and_store_spans_without_user_content_or_keys()
    {
        app.Model.Chat = request =>
            IsExtraction(request) ? new(NoExtraction)
            : HasToolResult(request) ? new("Stored.")
            : new(ToolCalls: [("archive_content", """{"content":"the churn project uses XGBoost"}""")]);
        var user = "fn-ai-" + Guid.NewGuid().ToString("N")[..8];
        var traceId = ActivityTraceId.CreateRandom().ToHexString();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/users/{user}/chat") { Content = Json($$"""{"message":"{{Secret}}"}""") };
        request.Headers.Add("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom().ToHexString()}-01");

        await Ok(await app.Client(TracedFunctionsAppFixture.FunctionKey).SendAsync(request));

        // The exporter sends spans in batches (every 5 s): wait for the invocation's, the last to end.
        List<JsonObject> Trace() => [.. app.Ingestion.Items.Where(i => (string?)i["tags"]?["ai.operation.id"] == traceId)];
        static string? Name(JsonObject item) => (string?)item["data"]?["baseData"]?["name"];
        for (var i = 0; i < 300 && !Trace().Any(t => Name(t) == "function Chat"); i++) await Task.Delay(100);
        var trace = Trace();
        Assert.True(trace.Count > 0, $"nothing of trace {traceId} reached the ingestion endpoint ({app.Ingestion.Items.Count} items){Environment.NewLine}{app.Host.Logs}");

        Assert.Contains(trace, t => Name(t) == "function Chat");
        var turn = Assert.Single(trace, t => Name(t) == "chat_turn");
        Assert.Equal("RemoteDependencyData", (string?)turn["data"]!["baseType"]);
        Assert.Equal("1", (string?)turn["data"]!["baseData"]!["properties"]!["memory.turn.tool_calls"]);
        Assert.Equal(2, trace.Count(t => Name(t) == "chat gpt-4.1"));
        Assert.Single(trace, t => Name(t) == "chat gpt-4.1-mini");
        Assert.Contains(trace, t => Name(t) == "store Commit");
        Assert.Contains(trace, t => Name(t) == "store GetCore");
        foreach (var item in trace)
        {
            var text = item.ToJsonString();
            Assert.DoesNotContain("churn project uses", text, StringComparison.Ordinal);
            Assert.DoesNotContain(Secret, text, StringComparison.Ordinal);
            Assert.DoesNotContain(user, text, StringComparison.Ordinal);
            Assert.DoesNotContain(TracedFunctionsAppFixture.FunctionKey, text, StringComparison.Ordinal);
            Assert.DoesNotContain(TracedFunctionsAppFixture.ModelKey, text, StringComparison.Ordinal);
        }
    }
}
