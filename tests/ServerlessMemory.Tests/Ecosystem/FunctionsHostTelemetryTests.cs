using System.Diagnostics;
using System.Reflection;
using System.Text.Json.Nodes;
using ServerlessMemory.Tests.Functions.Host;
using ServerlessMemory.Tests.Scripted;
using static ServerlessMemory.Tests.Api.HttpAssert;
using static ServerlessMemory.Tests.Chat.ChatRequests;

namespace ServerlessMemory.Tests.Ecosystem;

/// <summary>A span or a metric the worker's in-memory exporter exported, as the telemetry hook wrote it.</summary>
public sealed record ExportedSpan(string Source, string Name, string DisplayName, string Kind, string TraceId, string SpanId, string ParentSpanId,
    JsonObject Tags, IReadOnlyList<(string Name, JsonObject Tags)> Events)
{
    public string? StringTag(string key) => Tags[key] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    public long? LongTag(string key) => Tags[key] is JsonValue v && v.TryGetValue<long>(out var l) ? l : null;
}

/// <summary>
/// The built Functions app under the worker test host with the scripted model, and OpenTelemetry's
/// in-memory exporter added to the app's own tracer and meter providers by a startup hook
/// (tests/ServerlessMemory.Tests.WorkerTelemetry) that writes what is exported to a file. The app's
/// Program.cs is unchanged: the hook adds an exporter, no source or meter.
/// </summary>
public sealed class TracedFunctionsAppFixture : FunctionsAppFixture, IAsyncLifetime
{
    public const string FunctionKey = "fn-key-0d1e2f3a4b5c";
    public const string ModelKey = "sk-scripted-9f8e7d6c5b4a";

    private readonly string _telemetryFile = Path.Combine(Path.GetTempPath(), $"sm-worker-telemetry-{Guid.NewGuid():N}.jsonl");

    public ScriptedModelServer Model { get; private set; } = null!;

    /// <summary>The hook's assembly: the test command builds tests/ServerlessMemory.Tests.WorkerTelemetry before this project.</summary>
    public static string HookAssembly => typeof(TracedFunctionsAppFixture).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "WorkerTelemetryHook").Value!;

    public new async Task InitializeAsync()
    {
        Model = await ScriptedModelServer.StartAsync();
        await base.InitializeAsync();
    }

    public new async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Model.DisposeAsync();
        File.Delete(_telemetryFile);
    }

    protected override FunctionsWorkerHostOptions Configure(FunctionsWorkerHostOptions options) => options with
    {
        FunctionKey = FunctionKey,
        Settings = new Dictionary<string, string?>(options.Settings)
        {
            ["Model__Provider"] = "OpenAI",
            ["Model__Endpoint"] = Model.BaseUrl + "/v1",
            ["Model__ApiKey"] = ModelKey,
            ["Model__EmbeddingModel"] = "",
            ["Model__MaxRetries"] = "1",
            ["DOTNET_STARTUP_HOOKS"] = HookAssembly,
            ["SERVERLESSMEMORY_TEST_TELEMETRY_FILE"] = _telemetryFile,
        },
    };

    /// <summary>Every line the hook has written so far.</summary>
    public List<JsonObject> Exported()
    {
        if (!File.Exists(_telemetryFile)) return [];
        using var stream = new FileStream(_telemetryFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        var lines = new List<JsonObject>();
        while (reader.ReadLine() is { } line)
            if (line.EndsWith('}')) lines.Add(JsonNode.Parse(line)!.AsObject()); // a line still being written is left for later
        return lines;
    }

    public List<ExportedSpan> Spans() =>
        [.. Exported().Where(l => (string?)l["type"] == "span").Select(l => new ExportedSpan(
            (string)l["source"]!, (string)l["name"]!, (string)l["displayName"]!, (string)l["kind"]!, (string)l["traceId"]!, (string)l["spanId"]!,
            (string)l["parentSpanId"]!, l["tags"]!.AsObject(),
            [.. l["events"]!.AsArray().Select(e => ((string)e!["name"]!, e["tags"]!.AsObject()))]))];

    /// <summary>The last export of each metric of that name: each export is cumulative, so the last holds every point.</summary>
    public JsonArray? LastPoints(string metric) =>
        Exported().LastOrDefault(l => (string?)l["type"] == "metric" && (string?)l["name"] == metric)?["points"]?.AsArray();
}

/// <summary>A chat turn's traces and metrics from the built Functions app, through the worker test host.</summary>
public sealed class FunctionsHostTelemetryTests(TracedFunctionsAppFixture app) : IClassFixture<TracedFunctionsAppFixture>
{
    private const string Secret = "my secret churn project with XGBoost";

    [Fact]
    public async Task A_turn_through_the_functions_host_is_one_trace_of_invocation_turn_model_and_store_spans_without_user_content_or_keys()
    {
        app.Model.Chat = request =>
            IsExtraction(request) ? new("""{"core":[{"label":"active_goals","line":"churn project"}],"archive":[]}""", PromptTokens: 7, CompletionTokens: 3)
            : HasToolResult(request) ? new("Stored.", PromptTokens: 20, CompletionTokens: 2)
            : new(ToolCalls: [("archive_content", """{"content":"the churn project uses XGBoost"}""")], PromptTokens: 15, CompletionTokens: 4);
        var user = "fn-otel-" + Guid.NewGuid().ToString("N")[..8];
        var traceId = ActivityTraceId.CreateRandom().ToHexString();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/users/{user}/chat") { Content = Json($$"""{"message":"{{Secret}}"}""") };
        request.Headers.Add("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom().ToHexString()}-01");

        await Ok(await app.Client(TracedFunctionsAppFixture.FunctionKey).SendAsync(request));

        var trace = await Trace(traceId);
        var invocation = Assert.Single(trace, s => s.Source == "Microsoft.Azure.Functions.Worker");
        Assert.Equal("Chat", invocation.StringTag("faas.name")); // the worker's span of the invocation, under the host's request span
        var turn = Assert.Single(trace, s => s.Name == "chat_turn");
        Assert.Equal(invocation.SpanId, turn.ParentSpanId);
        Assert.Equal(15L + 20 + 7, turn.LongTag("gen_ai.usage.input_tokens"));
        Assert.Equal(1L, turn.LongTag("memory.turn.tool_calls"));
        Assert.Equal(["archive_content"], turn.Events.Where(e => e.Name == "memory.tool_call").Select(e => (string?)e.Tags["gen_ai.tool.name"]));
        Assert.Contains(turn.Events, e => e.Name == "memory.update" && (string?)e.Tags["memory.update.target"] == "archive");
        Assert.Contains(turn.Events, e => e.Name == "memory.update" && (string?)e.Tags["memory.update.label"] == "active_goals");

        var models = trace.Where(s => s.StringTag("gen_ai.operation.name") == "chat").ToList();
        Assert.Equal(3, models.Count); // the main model twice (the tool round), extraction once
        Assert.All(models, m => Assert.Equal(nameof(ActivityKind.Client), m.Kind));
        Assert.Equal(2, models.Count(m => m.StringTag("gen_ai.request.model") == "gpt-4.1"));
        Assert.Contains(models, m => m.LongTag("gen_ai.usage.input_tokens") == 15);
        Assert.Contains(trace, s => s.DisplayName.Contains("archive_content", StringComparison.Ordinal)); // the tool's own span

        var stores = trace.Where(s => s.Name.StartsWith("store ", StringComparison.Ordinal)).ToList();
        Assert.Contains(stores, s => s.Name == "store Commit");
        Assert.Contains(stores, s => s.Name == "store GetCore");
        Assert.All(stores, s => Assert.Equal("sqlite", s.StringTag("db.system")));
        var ids = trace.Select(s => s.SpanId).ToHashSet();
        Assert.All(trace.Where(s => s != invocation), s => Assert.Contains(s.ParentSpanId, ids)); // one tree under the invocation

        foreach (var span in trace)
            foreach (var (key, value) in span.Tags.Concat(span.Events.SelectMany(e => e.Tags)))
            {
                var text = value?.ToJsonString() ?? "";
                Assert.False(text.Contains("churn project uses", StringComparison.Ordinal) || text.Contains(Secret, StringComparison.Ordinal),
                    $"{span.DisplayName}: {key} carries user content");
                Assert.False(text.Contains(user, StringComparison.Ordinal), $"{span.DisplayName}: {key} carries the user id");
                Assert.False(text.Contains(TracedFunctionsAppFixture.FunctionKey, StringComparison.Ordinal), $"{span.DisplayName}: {key} carries the function key");
                Assert.False(text.Contains(TracedFunctionsAppFixture.ModelKey, StringComparison.Ordinal), $"{span.DisplayName}: {key} carries the model key");
            }

        // This class's only turn: the app's cumulative token metric holds its counts.
        var tokens = await Points("memory.turn.tokens", p => p.Count >= 2);
        double Sum(string type) => tokens.Where(p => (string?)p!["tags"]!["gen_ai.token.type"] == type).Sum(p => (double)p!["sum"]!);
        Assert.Equal(42, Sum("input"));
        Assert.Equal(9, Sum("output"));
        Assert.NotNull(await Points("memory.turn.request_charge", p => p.Count > 0));
        Assert.NotNull(await Points("gen_ai.client.token.usage", p => p.Count > 0));
    }

    /// <summary>The spans of one trace, once the invocation's own span (the last to end) has been exported.</summary>
    private async Task<List<ExportedSpan>> Trace(string traceId)
    {
        for (var i = 0; i < 200 && !app.Spans().Any(s => s.TraceId == traceId && s.Source == "Microsoft.Azure.Functions.Worker"); i++) await Task.Delay(50);
        var trace = app.Spans().Where(s => s.TraceId == traceId).ToList();
        Assert.True(trace.Count > 0, $"no span of trace {traceId} was exported{Environment.NewLine}{app.Host.Logs}");
        return trace;
    }

    /// <summary>The metric's points once an export has them (the hook's reader exports every 250 ms).</summary>
    private async Task<JsonArray> Points(string metric, Func<JsonArray, bool> ready)
    {
        for (var i = 0; i < 100; i++)
        {
            if (app.LastPoints(metric) is { } points && ready(points)) return points;
            await Task.Delay(50);
        }
        throw new Xunit.Sdk.XunitException($"the app exported no {metric} (or not all of it){Environment.NewLine}{app.Host.Logs}");
    }
}
