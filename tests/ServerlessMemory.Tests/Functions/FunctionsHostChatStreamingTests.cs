using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using static ServerlessMemory.Tests.Api.HttpAssert;
using static ServerlessMemory.Tests.Chat.ChatRequests;
using static ServerlessMemory.Tests.Chat.ChatStreamingTests;

namespace ServerlessMemory.Tests.Functions;

/// <summary>
/// Streamed chat turns (<c>Accept: text/event-stream</c>) against the built Functions app, through the
/// worker test host: the host forwards the worker's response as it comes, as the Functions host's
/// forwarder does, so the caller sees each delta while the model is still answering.
/// </summary>
public sealed class FunctionsHostChatStreamingTests(ModelledFunctionsAppFixture app) : IClassFixture<ModelledFunctionsAppFixture>
{
    private static string NewUser() => "fn-sse-" + Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public async Task A_streamed_turn_through_the_functions_host_sends_deltas_before_the_model_is_done_and_ends_with_done()
    {
        string[] tokens = ["你在做", "客户流失", "预测项目，", "用的是 ", "XGBoost。"];
        app.Model.Chat = request => IsExtraction(request) ? new(NoExtraction)
            : new(string.Concat(tokens), Tokens: tokens, FirstTokenAt: TimeSpan.FromMilliseconds(200), Delay: TimeSpan.FromMilliseconds(2000));
        var http = app.Client();
        var user = NewUser();
        var answered = app.Model.StreamedAnswersDone.Count;

        var (response, events) = await Stream(http, user, "我在做什么项目？");

        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(["delta", "delta", "delta", "delta", "delta", "done"], events.Select(e => e.Type));
        Assert.Equal(tokens, events.Where(e => e.Type == "delta").Select(e => (string?)e.Data["text"]));
        // The first delta came while the model was still answering, and the model spends 1.8 s between its
        // first and last token: a host that buffered the answer would deliver everything at once, after it.
        var modelDone = app.Model.StreamedAnswersDone.Skip(answered).Single();
        Assert.True(events[0].Timestamp < modelDone, $"the first delta came {Stopwatch.GetElapsedTime(modelDone, events[0].Timestamp).TotalMilliseconds:F0} ms after the model was done");
        var (first, done) = (events[0].At, events[^1].At);
        Assert.True(done - first > TimeSpan.FromMilliseconds(1000), $"the first delta came at {first.TotalMilliseconds:F0} ms, done at {done.TotalMilliseconds:F0} ms{Environment.NewLine}{app.Host.Logs}");
        Assert.Equal(string.Concat(tokens), (string?)events[^1].Data["reply"]);
        var stored = (await Ok(await http.GetAsync($"/api/users/{user}/messages")))["items"]!.AsArray();
        Assert.Equal([string.Concat(tokens), "我在做什么项目？"], stored.Select(m => (string?)m!["content"]));
        Assert.Equal((string?)events[^1].Data["turnId"], (string?)stored[0]!["turnId"]);
    }

    [Fact]
    public async Task The_done_event_through_the_functions_host_carries_what_the_json_answer_returns()
    {
        app.Model.Chat = request =>
            IsExtraction(request) ? new("""{"core":[{"label":"human","line":"likes Python"}],"archive":[]}""")
            : HasToolResult(request) ? new("Stored, and I found your project.")
            : new(ToolCalls: [("archive_content", """{"content":"the churn project uses XGBoost"}"""), ("search_archive", """{"query":"churn"}""")]);
        var http = app.Client();

        var json = await Ok(await http.PostAsync($"/api/users/{NewUser()}/chat", Json("""{"message":"I like Python; remember my churn project"}""")));
        var (_, events) = await Stream(http, NewUser(), "I like Python; remember my churn project");

        Assert.Equal("done", events[^1].Type);
        var done = events[^1].Data;
        Assert.Equal(json.Select(p => p.Key), done.Select(p => p.Key));
        foreach (var key in new[] { "reply", "toolCalls", "memoryUpdates", "recalled", "usage" })
            Assert.Equal(Timeless(json[key]!), Timeless(done[key]!));
        Assert.Equal(["archive_content", "search_archive"], events.Where(e => e.Type == "tool").Select(e => (string?)e.Data["name"]));
    }

    /// <summary>The JSON with its times blanked: the Functions app keeps the real clock, so the two turns' memories differ in their times only.</summary>
    private static string Timeless(JsonNode node) =>
        Regex.Replace(node.ToJsonString(), @"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", "<time>");

    [Fact]
    public async Task A_model_failing_after_the_first_token_through_the_functions_host_ends_with_an_error_and_stores_nothing()
    {
        app.Model.Chat = request =>
            IsExtraction(request) ? new("""{"core":[{"label":"human","line":"should not be kept"}],"archive":[{"content":"nor this"}]}""")
            : HasToolResult(request) ? new("half an answer", Tokens: ["half ", "an answer"], BreakAfterFirstToken: true)
            : new(ToolCalls: [("update_core_memory", """{"field":"key_facts","value":"half-way fact"}""")]);
        var http = app.Client();
        var user = NewUser();

        var (response, events) = await Stream(http, user, "remember this");

        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal(["tool", "delta", "error"], events.Select(e => e.Type));
        Assert.Equal(503, (int)events[^1].Data["status"]!);
        Assert.DoesNotContain("   at ", events[^1].Data.ToJsonString(), StringComparison.Ordinal);
        Assert.Empty((await Ok(await http.GetAsync($"/api/users/{user}/messages")))["items"]!.AsArray());
        Assert.Empty((await Ok(await http.GetAsync($"/api/users/{user}/memory/archive")))["items"]!.AsArray());
        Assert.Equal("\"0\"", (string?)(await Ok(await http.GetAsync($"/api/users/{user}/memory/core")))["etag"]); // never written
    }
}
