using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using ServerlessMemory.Tests.Chat;
using ServerlessMemory.Tests.Functions;
using ServerlessMemory.Tests.Scripted;
using static ServerlessMemory.Tests.Api.HttpAssert;
using static ServerlessMemory.Tests.Chat.ChatRequests;
using static ServerlessMemory.Tests.Chat.ChatStreamingTests;

namespace ServerlessMemory.Tests.FailurePaths;

/// <summary>
/// A streamed turn fails as the JSON one does: the same status (a problem+json before the first event,
/// an <c>error</c> event's problem after it), nothing stored, and no Error log for a model's answer.
/// </summary>
public sealed class StreamingFailsLikeJsonTests : IAsyncLifetime
{
    private ScriptedModelServer _model = null!;

    public async Task InitializeAsync() => _model = await ScriptedModelServer.StartAsync();

    public async Task DisposeAsync() => await _model.DisposeAsync();

    /// <summary>Model answers a turn cannot use, each as the JSON call sees it and as a streamed one does.</summary>
    public static TheoryData<string, int, string?, string[]?> Answers()
    {
        var answers = new TheoryData<string, int, string?, string[]?>
        {
            { "empty content", 200, null, [] },
            { "whitespace streamed", 200, null, [" ", "\n"] },
        };
        foreach (var row in ChatHardeningTests.Failures)
            answers.Add((string)row[0], (int)row[1], (string?)row[2], null);
        return answers;
    }

    private static ScriptedReply Reply(int status, string? body, string[]? tokens) =>
        tokens is null ? new(Status: status, RawBody: body) : new(string.Concat(tokens), Tokens: tokens);

    /// <summary>The status a streamed answer failed with: the response's, or once it started, its last event's (which must be an error).</summary>
    internal static async Task<int> StreamedStatus(HttpResponseMessage response, List<ReceivedEvent> events)
    {
        if (response.Content.Headers.ContentType?.MediaType != "text/event-stream")
            return (int)(await Problem(response, (int)response.StatusCode))["status"]!;
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("error", events[^1].Type);
        Assert.DoesNotContain(events, e => e.Type == "done");
        var problem = events[^1].Data;
        Assert.False(string.IsNullOrEmpty((string?)problem["title"]));
        Assert.DoesNotContain("   at ", problem.ToJsonString(), StringComparison.Ordinal);
        return (int)problem["status"]!;
    }

    private static async Task AssertNothingStored(HttpClient http, string user)
    {
        Assert.Empty((await Ok(await http.GetAsync($"/api/users/{user}/messages")))["items"]!.AsArray());
        Assert.Empty((await Ok(await http.GetAsync($"/api/users/{user}/memory/archive")))["items"]!.AsArray());
        Assert.Equal("\"0\"", (string?)(await Ok(await http.GetAsync($"/api/users/{user}/memory/core")))["etag"]);
    }

    [Theory]
    [MemberData(nameof(Answers))]
    public async Task A_model_answer_the_json_call_refuses_is_refused_streamed_with_the_same_status_and_stores_nothing(
        string what, int status, string? body, string[]? tokens)
    {
        _model.Chat = request => IsExtraction(request)
            ? new("""{"core":[{"label":"human","line":"should not be kept"}],"archive":[{"content":"should not be kept"}]}""")
            : Reply(status, body, tokens);
        using var service = Service(_model);
        var http = service.Client();

        var json = await http.PostAsync("/api/users/json/chat", Json("""{"message":"remember this"}"""));
        var (response, events) = await Stream(http, "streamed", "remember this");

        Assert.True((int)json.StatusCode is 502 or 503, $"{what}: JSON answered {(int)json.StatusCode}");
        Assert.Equal((int)json.StatusCode, await StreamedStatus(response, events));
        await AssertNothingStored(http, "json");
        await AssertNothingStored(http, "streamed");
        Assert.Empty(service.Logs.AtLeast(LogLevel.Error));
    }

    [Fact]
    public async Task A_streamed_reply_over_the_reply_limit_ends_with_a_502_error_event_and_stores_nothing()
    {
        string[] tokens = ["far ", "too ", "long ", "a ", "reply ", "for ", "the ", "limit"];
        _model.Chat = request => IsExtraction(request) ? new(NoExtraction) : new(string.Concat(tokens), Tokens: tokens);
        using var service = Service(_model);
        service.Settings["Memory:Limits:ReplyChars"] = "20";
        var http = service.Client();

        await Problem(await http.PostAsync("/api/users/json/chat", Json("""{"message":"say something long"}""")), 502);
        var (response, events) = await Stream(http, "streamed", "say something long");

        Assert.Equal(502, await StreamedStatus(response, events));
        Assert.Contains(events, e => e.Type == "delta");
        await AssertNothingStored(http, "streamed");
        Assert.Empty(service.Logs.AtLeast(LogLevel.Error));
    }
}

/// <summary>The same through the built Functions app and the worker test host.</summary>
public sealed class FunctionsHostStreamingFailsLikeJsonTests(ModelledFunctionsAppFixture app) : IClassFixture<ModelledFunctionsAppFixture>
{
    private static string NewUser() => "fn-sse-fail-" + Guid.NewGuid().ToString("N")[..8];

    private int LogLines => app.Host.Logs.Split(Environment.NewLine).Length;

    private string[] ErrorsSince(int before) =>
        [.. app.Host.Logs.Split(Environment.NewLine).Skip(before).Where(l => l.StartsWith("[worker Error]", StringComparison.Ordinal) || l.Contains(" failed: ", StringComparison.Ordinal))];

    [Theory]
    [InlineData("empty content")]
    [InlineData("whitespace streamed")]
    [InlineData("upstream 401")]
    [InlineData("reply over the limit")]
    public async Task Through_the_functions_host_a_streamed_turn_fails_with_the_status_json_gives_and_stores_nothing(string what)
    {
        var tooLong = Enumerable.Repeat(new string('x', 1000) + " ", 41).ToArray(); // 41,041 characters, over Memory:Limits:ReplyChars
        app.Model.Chat = request => IsExtraction(request) ? new(NoExtraction) : what switch
        {
            "empty content" => new("", Tokens: []),
            "whitespace streamed" => new(" \n", Tokens: [" ", "\n"]),
            "upstream 401" => new(Status: 401),
            _ => new(string.Concat(tooLong), Tokens: tooLong),
        };
        var http = app.Client();
        var (jsonUser, streamedUser) = (NewUser(), NewUser());
        var before = LogLines;

        await Problem(await http.PostAsync($"/api/users/{jsonUser}/chat", Json("""{"message":"remember this"}""")), 502);
        var (response, events) = await Stream(http, streamedUser, "remember this");

        Assert.Equal(502, await StreamingFailsLikeJsonTests.StreamedStatus(response, events));
        Assert.Empty((await Ok(await http.GetAsync($"/api/users/{streamedUser}/messages")))["items"]!.AsArray());
        Assert.Empty(ErrorsSince(before));
    }
}
