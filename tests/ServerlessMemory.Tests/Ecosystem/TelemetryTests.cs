using System.Diagnostics;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using ServerlessMemory.Core;
using ServerlessMemory.Tests.Api;
using ServerlessMemory.Tests.Chat;
using ServerlessMemory.Tests.Scripted;
using static ServerlessMemory.Tests.Api.HttpAssert;
using static ServerlessMemory.Tests.Chat.ChatRequests;

namespace ServerlessMemory.Tests.Ecosystem;

/// <summary>A chat turn's traces and metrics, through the self-host's own OpenTelemetry setup into the in-memory exporter.</summary>
[Collection(TelemetryCollection.Name)]
public sealed class TelemetryTests : IAsyncLifetime
{
    private const string Secret = "my secret churn project with XGBoost";
    private const string User = "telemetry-user-7";
    private ScriptedModelServer _model = null!;

    public async Task InitializeAsync()
    {
        _model = await ScriptedModelServer.StartAsync();
        _model.Chat = request =>
            IsExtraction(request) ? new("""{"core":[{"label":"active_goals","line":"churn project"}],"archive":[]}""", PromptTokens: 7, CompletionTokens: 3)
            : HasToolResult(request) ? new("Stored.", PromptTokens: 20, CompletionTokens: 2)
            : new(ToolCalls: [("archive_content", """{"content":"the churn project uses XGBoost"}""")], PromptTokens: 15, CompletionTokens: 4);
    }

    public async Task DisposeAsync() => await _model.DisposeAsync();

    private (ServiceFactory Service, List<Activity> Spans, List<Metric> Metrics) Service(bool includeContent = false)
    {
        var spans = new List<Activity>();
        var metrics = new List<Metric>();
        var service = ChatRequests.Service(_model);
        service.Settings["Auth:ApiKey"] = "the-api-key";
        if (includeContent) service.Settings["Telemetry:IncludeContent"] = "true";
        return (service, spans, metrics);
    }

    private static ServiceFactory WithExporters(ServiceFactory service, List<Activity> spans, List<Metric> metrics)
    {
        service.TestServices = services => services.AddOpenTelemetry()
            .WithTracing(t => t.AddInMemoryExporter(spans))
            .WithMetrics(m => m.AddInMemoryExporter(metrics));
        return service;
    }

    /// <summary>The self-host's request span of the chat route (the scripted model's own server spans join the trace too).</summary>
    private static bool ChatRequest(Activity a) =>
        a.Kind == ActivityKind.Server && (a.GetTagItem("http.route") as string)?.EndsWith("users/{userId}/chat", StringComparison.Ordinal) == true;

    private static async Task<List<Activity>> TraceOf(List<Activity> spans, Func<Activity, bool> root)
    {
        // The request span ends after the response is written: wait for it.
        for (var i = 0; i < 100 && !Snapshot(spans).Any(root); i++) await Task.Delay(50);
        var request = Snapshot(spans).Single(root);
        return [.. Snapshot(spans).Where(a => a.TraceId == request.TraceId)];
    }

    private static List<Activity> Snapshot(List<Activity> spans)
    {
        lock (spans)
        {
            return [.. spans];
        }
    }

    [Fact]
    public async Task A_turn_is_one_trace_of_its_request_turn_model_and_store_spans_without_user_content_or_key()
    {
        var (service, spans, metrics) = Service();
        using var _ = WithExporters(service, spans, metrics);
        var http = service.Client("the-api-key");

        await Ok(await http.PostAsync($"/api/users/{User}/chat", Json($$"""{"message":"{{Secret}}"}""")));

        var trace = await TraceOf(spans, ChatRequest);
        var request = trace.Single(ChatRequest);
        Assert.EndsWith("/users/{userId}/chat", (string?)request.GetTagItem("url.path"), StringComparison.Ordinal);
        var turn = trace.Single(a => a.OperationName == "chat_turn");
        Assert.Equal(request.SpanId, turn.ParentSpanId);
        Assert.Equal(15L + 20 + 7, turn.GetTagItem("gen_ai.usage.input_tokens"));
        Assert.Equal(1, turn.GetTagItem("memory.turn.tool_calls"));
        Assert.Equal(["archive_content"], turn.Events.Where(e => e.Name == "memory.tool_call").Select(e => e.Tags.Single(t => t.Key == "gen_ai.tool.name").Value));
        Assert.Contains(turn.Events, e => e.Name == "memory.update" && e.Tags.Any(t => t.Key == "memory.update.target" && (string?)t.Value == "archive"));
        Assert.Contains(turn.Events, e => e.Name == "memory.update" && e.Tags.Any(t => t.Key == "memory.update.label" && (string?)t.Value == "active_goals"));

        var models = trace.Where(a => (string?)a.GetTagItem("gen_ai.operation.name") == "chat").ToList();
        Assert.Equal(3, models.Count); // the main model twice (the tool round), extraction once
        Assert.All(models, m => Assert.Equal(ActivityKind.Client, m.Kind));
        Assert.Equal(2, models.Count(m => (string?)m.GetTagItem("gen_ai.request.model") == "gpt-4.1"));
        Assert.Contains(models, m => m.GetTagItem("gen_ai.usage.input_tokens") is 15 or 15L);
        Assert.Contains(trace, a => a.DisplayName.Contains("archive_content", StringComparison.Ordinal)); // the tool's own span

        var stores = trace.Where(a => a.OperationName.StartsWith("store ", StringComparison.Ordinal)).ToList();
        Assert.Contains(stores, s => s.OperationName == "store Commit");
        Assert.Contains(stores, s => s.OperationName == "store GetCore");
        Assert.All(stores, s => Assert.Equal("sqlite", s.GetTagItem("db.system")));
        Assert.All(stores, s => Assert.True(s.ParentSpanId != default));

        foreach (var span in trace)
            foreach (var (key, value) in span.TagObjects.Concat(span.Events.SelectMany(e => e.Tags)))
            {
                var text = Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? "";
                Assert.False(text.Contains("churn project uses", StringComparison.Ordinal) || text.Contains(Secret, StringComparison.Ordinal),
                    $"{span.DisplayName}: {key} carries user content");
                Assert.False(text.Contains(User, StringComparison.Ordinal), $"{span.DisplayName}: {key} carries the user id");
                Assert.False(text.Contains("the-api-key", StringComparison.Ordinal), $"{span.DisplayName}: {key} carries the key");
            }

        service.Services.GetRequiredService<MeterProvider>().ForceFlush();
        long Sum(string name, string type) => metrics.Where(m => m.Name == name).SelectMany(Points)
            .Where(p => Tag(p, "gen_ai.token.type") == type).Sum(p => p.GetHistogramSum() is var s ? (long)s : 0);
        Assert.Equal(42, Sum("memory.turn.tokens", "input"));
        Assert.Equal(9, Sum("memory.turn.tokens", "output"));
        Assert.Contains(metrics, m => m.Name == "memory.turn.request_charge");
        Assert.Contains(metrics, m => m.Name == "gen_ai.client.token.usage");
        Assert.Contains(metrics, m => m.Name == "http.server.request.duration");
    }

    [Fact]
    public async Task With_content_turned_on_the_model_spans_carry_the_messages()
    {
        var (service, spans, metrics) = Service(includeContent: true);
        using var _ = WithExporters(service, spans, metrics);
        var http = service.Client("the-api-key");

        await Ok(await http.PostAsync($"/api/users/{User}/chat", Json($$"""{"message":"{{Secret}}"}""")));

        var trace = await TraceOf(spans, ChatRequest);
        Assert.Contains(trace, a => (string?)a.GetTagItem("gen_ai.operation.name") == "chat"
            && a.TagObjects.Any(t => t.Value is string s && s.Contains(Secret, StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_store_calls_request_charge_goes_on_its_span()
    {
        var spans = new List<Activity>();
        using var tracer = Sdk.CreateTracerProviderBuilder().AddSource(MemoryTelemetry.Name).AddInMemoryExporter(spans).Build();
        var store = MemoryTelemetry.Traced(ChargingStore.Create());
        // This test's own recorded trace: the provider sees every store span in the process, other tests' too.
        using var test = new Activity("test") { ActivityTraceFlags = ActivityTraceFlags.Recorded };
        test.SetIdFormat(ActivityIdFormat.W3C).Start();

        await store.GetCoreAsync("u");
        test.Stop();

        var span = Assert.Single(Snapshot(spans), s => s.TraceId == test.TraceId);
        Assert.Equal("store GetCore", span.OperationName);
        Assert.Equal(4.5, span.GetTagItem("db.cosmosdb.request_charge"));
        Assert.Equal("cosmosdb", span.GetTagItem("db.system"));
    }

    private static IEnumerable<MetricPoint> Points(Metric metric)
    {
        foreach (ref readonly var point in metric.GetMetricPoints()) yield return point;
    }

    private static string? Tag(MetricPoint point, string key)
    {
        foreach (var tag in point.Tags)
            if (tag.Key == key) return tag.Value?.ToString();
        return null;
    }

    /// <summary>A store that answers as Cosmos does, reporting two responses' charges (a proxy: the store port may grow).</summary>
    public class ChargingStore : System.Reflection.DispatchProxy
    {
        public static IMemoryStore Create() => Create<IMemoryStore, ChargingStore>();

        protected override object? Invoke(System.Reflection.MethodInfo? targetMethod, object?[]? args) => targetMethod?.Name switch
        {
            "get_Name" => "cosmos",
            nameof(IMemoryStore.GetCoreAsync) => Charge(),
            _ => throw new NotSupportedException(targetMethod?.Name),
        };

        private static async Task<CoreMemory?> Charge()
        {
            await Task.Yield();
            MemoryTelemetry.RecordRequestCharge(1.5);
            MemoryTelemetry.RecordRequestCharge(3);
            return null;
        }
    }
}

/// <summary>
/// Meters and activity sources are process-wide: a turn run by any other test meanwhile would be
/// counted in these tests' metrics, so they run while no other test does.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TelemetryCollection
{
    public const string Name = "Telemetry: nothing else runs";
}
