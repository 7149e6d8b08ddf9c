using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.ServerSentEvents;
using System.Text.Json.Nodes;
using ServerlessMemory.Tests.Scripted;
using static ServerlessMemory.Tests.Api.HttpAssert;
using static ServerlessMemory.Tests.Chat.ChatRequests;

namespace ServerlessMemory.Tests.Chat;

/// <summary>An event of a streamed turn, and when it arrived (since the request, and as a <see cref="Stopwatch.GetTimestamp"/>).</summary>
public sealed record ReceivedEvent(string Type, JsonObject Data, TimeSpan At, long Timestamp);

/// <summary>Streamed chat turns (<c>Accept: text/event-stream</c>) over HTTP against the self-host, the scripted model streaming.</summary>
public sealed class ChatStreamingTests : IAsyncLifetime
{
    private ScriptedModelServer _model = null!;

    public async Task InitializeAsync() => _model = await ScriptedModelServer.StartAsync();

    public async Task DisposeAsync() => await _model.DisposeAsync();

    /// <summary>Posts a turn asking for events and reads them as they come; the response itself for a look at its headers.</summary>
    public static async Task<(HttpResponseMessage Response, List<ReceivedEvent> Events)> Stream(HttpClient http, string user, string message, string session = "default")
    {
        var clock = Stopwatch.StartNew();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/users/{user}/chat")
        {
            Content = Json(new JsonObject { ["message"] = message, ["sessionId"] = session }.ToJsonString()),
        };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var events = new List<ReceivedEvent>();
        if (response.Content.Headers.ContentType?.MediaType != "text/event-stream") return (response, events);
        await using var body = await response.Content.ReadAsStreamAsync();
        await foreach (var item in SseParser.Create(body).EnumerateAsync())
            events.Add(new(item.EventType, JsonNode.Parse(item.Data)!.AsObject(), clock.Elapsed, Stopwatch.GetTimestamp()));
        return (response, events);
    }

    private static string Deltas(IEnumerable<ReceivedEvent> events) =>
        string.Concat(events.Where(e => e.Type == "delta").Select(e => (string?)e.Data["text"]));

    [Theory]
    [InlineData("OpenAI")]
    [InlineData("AzureOpenAI")]
    public async Task A_streamed_turn_sends_deltas_before_the_model_is_done_and_ends_with_done(string provider)
    {
        string[] tokens = ["你在做", "客户流失", "预测项目，", "用的是 ", "XGBoost。"];
        _model.Chat = request => IsExtraction(request) ? new(NoExtraction)
            : new(string.Concat(tokens), Tokens: tokens, FirstTokenAt: TimeSpan.FromMilliseconds(200), Delay: TimeSpan.FromMilliseconds(2000));
        using var service = ChatRequests.Service(_model, provider);
        var http = service.Client();

        var (response, events) = await Stream(http, "streamer", "我在做什么项目？");

        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal(["delta", "delta", "delta", "delta", "delta", "done"], events.Select(e => e.Type));
        Assert.Equal(tokens, events.Where(e => e.Type == "delta").Select(e => (string?)e.Data["text"]));
        Assert.True(events[0].Timestamp < _model.StreamedAnswersDone.Single(), "the first delta came after the model was done");
        var first = events[0].At;
        var done = events[^1].At;
        Assert.True(done - first > TimeSpan.FromMilliseconds(1000), $"the first delta came at {first.TotalMilliseconds:F0} ms, done at {done.TotalMilliseconds:F0} ms");
        Assert.Equal(string.Concat(tokens), (string?)events[^1].Data["reply"]);
        var stored = (await Ok(await http.GetAsync("/api/users/streamer/messages")))["items"]!.AsArray();
        Assert.Equal([string.Concat(tokens), "我在做什么项目？"], stored.Select(m => (string?)m!["content"]));
        Assert.Equal((string?)events[^1].Data["turnId"], (string?)stored[0]!["turnId"]);
    }

    [Fact]
    public async Task The_functions_apps_chat_handler_streams_the_same_way()
    {
        string[] tokens = ["one ", "two ", "three"];
        _model.Chat = request => IsExtraction(request) ? new(NoExtraction)
            : new(string.Concat(tokens), Tokens: tokens, FirstTokenAt: TimeSpan.FromMilliseconds(200), Delay: TimeSpan.FromMilliseconds(1800));
        await using var functions = await Ecosystem.FunctionsHandlerHost.StartAsync(new Dictionary<string, string?>
        {
            ["Model:Provider"] = "OpenAI", ["Model:Endpoint"] = _model.BaseUrl + "/v1", ["Model:ApiKey"] = "test-key", ["Model:EmbeddingModel"] = "",
        });
        using var http = functions.Client();

        var (response, events) = await Stream(http, "fn-streamer", "count to three");

        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal(["delta", "delta", "delta", "done"], events.Select(e => e.Type));
        Assert.True(events[^1].At - events[0].At > TimeSpan.FromMilliseconds(800), $"first delta at {events[0].At.TotalMilliseconds:F0} ms, done at {events[^1].At.TotalMilliseconds:F0} ms");
        Assert.Equal("one two three", (string?)events[^1].Data["reply"]);
    }

    [Fact]
    public async Task The_done_event_carries_what_the_json_answer_returns_and_tool_events_come_as_tools_run()
    {
        _model.Chat = request =>
            IsExtraction(request) ? new("""{"core":[{"label":"human","line":"likes Python"}],"archive":[]}""")
            : HasToolResult(request) ? new("Stored, and I found your project.")
            : new(ToolCalls: [("archive_content", """{"content":"the churn project uses XGBoost"}"""), ("search_archive", """{"query":"churn"}""")]);
        using var service = ChatRequests.Service(_model);
        var http = service.Client();

        var json = await Ok(await http.PostAsync("/api/users/plain/chat", Json("""{"message":"I like Python; remember my churn project"}""")));
        var (_, events) = await Stream(http, "streamed", "I like Python; remember my churn project");

        var done = events[^1].Data;
        Assert.Equal("done", events[^1].Type);
        Assert.Equal(json.Select(p => p.Key), done.Select(p => p.Key));
        foreach (var key in new[] { "reply", "toolCalls", "memoryUpdates", "recalled", "usage" })
            Assert.Equal(json[key]!.ToJsonString(), done[key]!.ToJsonString());
        var tools = events.Where(e => e.Type == "tool").Select(e => e.Data).ToList();
        Assert.Equal(["archive_content", "search_archive"], tools.Select(t => (string?)t["name"]));
        Assert.Equal(done["toolCalls"]!.ToJsonString(), new JsonArray([.. tools.Select(t => t.DeepClone())]).ToJsonString());
        Assert.True(events.FindIndex(e => e.Type == "tool") < events.FindIndex(e => e.Type == "delta"), "tool events come before the answer that follows them");
        Assert.Equal("Stored, and I found your project.", Deltas(events));
        Assert.Equal(2, (int)done["usage"]!["promptTokens"]! / 10 - 1); // main twice + extraction, 10 prompt tokens each
    }

    [Fact]
    public async Task A_streamed_answer_repeating_a_tool_call_id_still_runs_each_call_once()
    {
        _model.Chat = request =>
            IsExtraction(request) ? new(NoExtraction)
            : HasToolResult(request) ? new("Both stored.")
            : new(ToolCalls: [("archive_content", """{"content":"first memory"}"""), ("archive_content", """{"content":"second memory"}""")], CallIds: ["call_same", "call_same"]);
        using var service = ChatRequests.Service(_model);
        var http = service.Client();

        var (_, events) = await Stream(http, "dup-ids", "remember two things");

        Assert.Equal("done", events[^1].Type);
        Assert.Equal(2, events.Count(e => e.Type == "tool"));
        var items = (await Ok(await http.GetAsync("/api/users/dup-ids/memory/archive")))["items"]!.AsArray();
        Assert.Equal(["first memory", "second memory"], items.Select(i => (string?)i!["content"]).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_model_failing_before_the_first_token_is_the_usual_503_problem()
    {
        _model.Chat = request => IsExtraction(request) ? new(NoExtraction) : new(Status: 500);
        using var service = ChatRequests.Service(_model);
        var http = service.Client();

        var (response, events) = await Stream(http, "u", "hello");

        await Problem(response, 503);
        Assert.NotNull(response.Headers.RetryAfter);
        Assert.Empty(events);
        Assert.Empty((await Ok(await http.GetAsync("/api/users/u/messages")))["items"]!.AsArray());
    }

    [Fact]
    public async Task Bad_input_to_a_streamed_turn_is_a_400_problem()
    {
        using var service = ChatRequests.Service(_model);
        var http = service.Client();

        var (response, events) = await Stream(http, "u", new string('x', 8_001));

        await Problem(response, 400);
        Assert.Empty(events);
    }

    [Fact]
    public async Task A_model_failing_after_the_first_token_ends_the_stream_with_an_error_and_stores_nothing()
    {
        _model.Chat = request =>
            IsExtraction(request) ? new("""{"core":[{"label":"human","line":"should not be kept"}],"archive":[{"content":"nor this"}]}""")
            : HasToolResult(request) ? new("half an answer", Tokens: ["half ", "an answer"], BreakAfterFirstToken: true)
            : new(ToolCalls: [("update_core_memory", """{"field":"key_facts","value":"half-way fact"}""")]);
        using var service = ChatRequests.Service(_model);
        var http = service.Client();

        var (response, events) = await Stream(http, "u", "remember this");

        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal(["tool", "delta", "error"], events.Select(e => e.Type));
        var problem = events[^1].Data;
        Assert.Equal(503, (int)problem["status"]!);
        Assert.False(string.IsNullOrEmpty((string?)problem["title"]));
        Assert.DoesNotContain("   at ", problem.ToJsonString(), StringComparison.Ordinal);
        Assert.Empty((await Ok(await http.GetAsync("/api/users/u/messages")))["items"]!.AsArray());
        Assert.Empty((await Ok(await http.GetAsync("/api/users/u/memory/archive")))["items"]!.AsArray());
        Assert.Equal("\"0\"", (string?)(await Ok(await http.GetAsync("/api/users/u/memory/core")))["etag"]); // never written
    }

    [Fact]
    public async Task Without_the_event_stream_accept_the_answer_is_json()
    {
        _model.Chat = request => IsExtraction(request) ? new(NoExtraction) : new("plain answer");
        using var service = ChatRequests.Service(_model);
        var http = service.Client();

        var response = await http.PostAsync("/api/users/u/chat", Json("""{"message":"hello"}"""));

        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("plain answer", (string?)(await Ok(response))["reply"]);
        Assert.DoesNotContain(_model.Requests, r => r.Body["stream"] is not null && r.Body["stream"]!.GetValue<bool>());
    }
}
