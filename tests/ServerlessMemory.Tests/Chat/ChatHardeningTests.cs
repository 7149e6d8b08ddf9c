using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using ServerlessMemory.Tests.Api;
using ServerlessMemory.Tests.Scripted;
using static ServerlessMemory.Tests.Api.HttpAssert;
using static ServerlessMemory.Tests.Chat.ChatRequests;

namespace ServerlessMemory.Tests.Chat;

/// <summary>A model failing in any shape, or answering badly: never a 500, never a half-written turn.</summary>
public sealed class ChatHardeningTests : IAsyncLifetime
{
    private ScriptedModelServer _model = null!;

    public async Task InitializeAsync() => _model = await ScriptedModelServer.StartAsync();

    public async Task DisposeAsync() => await _model.DisposeAsync();

    private static async Task AssertNothingStored(HttpClient http, string user)
    {
        Assert.Empty((await Ok(await http.GetAsync($"/api/users/{user}/messages")))["items"]!.AsArray());
        Assert.Empty((await Ok(await http.GetAsync($"/api/users/{user}/memory/archive")))["items"]!.AsArray());
        var core = await Ok(await http.GetAsync($"/api/users/{user}/memory/core"));
        Assert.All(core["blocks"]!.AsArray().Where(b => (string?)b!["label"] != "persona"), b => Assert.Equal("", (string?)b!["value"]));
    }

    public static TheoryData<string, int, string?> Failures => new()
    {
        { "upstream 400", 400, null },
        { "upstream 401", 401, null },
        { "upstream 403", 403, null },
        { "upstream 404", 404, null },
        { "upstream 422", 422, null },
        { "empty choices", 200, """{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":0,"total_tokens":1}}""" },
        { "truncated body", 200, """{"id":"x","object":"chat.completion","created":1,"model":"m","choi""" },
        { "not JSON", 200, "<html><body>502 Bad Gateway</body></html>" },
        { "empty body", 200, "" },
        { "JSON but not an object", 200, "[1,2,3]" },
        { "a tool call with null arguments", 200, """{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"archive_content","arguments":null}}]}}]}""" },
        { "a tool call without a name", 200, """{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"arguments":"{}"}}]}}]}""" },
    };

    [Theory]
    [MemberData(nameof(Failures))]
    public async Task A_model_failure_of_any_shape_is_a_502_or_503_and_changes_nothing(string what, int status, string? body)
    {
        _model.Chat = request => IsExtraction(request)
            ? new("""{"core":[{"label":"human","line":"should not be kept"}],"archive":[{"content":"should not be kept"}]}""")
            : new(Status: status, RawBody: body);
        using var service = ChatRequests.Service(_model);
        var http = service.Client();

        var response = await http.PostAsync("/api/users/u/chat", Json("""{"message":"remember this"}"""));

        Assert.True((int)response.StatusCode is 502 or 503, $"{what}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        await Problem(response, (int)response.StatusCode);
        await AssertNothingStored(http, "u");
        Assert.Empty(service.Logs.AtLeast(LogLevel.Error));
        Assert.Contains(service.Logs.AtLeast(LogLevel.Warning), e => e.Category.StartsWith("ServerlessMemory", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_model_error_that_echoes_the_key_logs_its_cause_without_it()
    {
        // Some gateways answer a refused key with the key itself in the message; the cause is logged, the key is not.
        using var service = ChatRequests.Service(_model);
        var key = service.Settings["Model:ApiKey"]!;
        _model.Chat = _ => new(Status: 401, RawBody: $$$"""{"error":{"message":"Incorrect API key provided: {{{key}}}","type":"invalid_request_error"}}""");
        var http = service.Client();

        await Problem(await http.PostAsync("/api/users/u/chat", Json("""{"message":"hello"}""")), 502);

        var warnings = service.Logs.AtLeast(LogLevel.Warning);
        Assert.Contains(warnings, e => e.AllText.Contains("Incorrect API key provided: ***", StringComparison.Ordinal));
        Assert.DoesNotContain(service.Logs.Entries, e => e.AllText.Contains(key, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Without_a_model_chat_is_a_501_that_asks_for_no_retry()
    {
        using var service = new ServiceFactory();

        var response = await service.Client().PostAsync("/api/users/u/chat", Json("""{"message":"hello"}"""));

        var problem = await Problem(response, 501);
        Assert.Null(response.Headers.RetryAfter);
        Assert.Contains("Model__Provider", (string?)problem["detail"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_turn_that_ends_on_tool_calls_only_stores_no_empty_reply()
    {
        _model.Chat = request => IsExtraction(request) ? new(NoExtraction)
            : request["tools"] is null ? new(Content: "")
            : new(ToolCalls: [("archive_content", """{"content":"kept by a tool"}""")]);
        using var service = ChatRequests.Service(_model);
        var http = service.Client();

        var response = await http.PostAsync("/api/users/u/chat", Json("""{"message":"remember this"}"""));

        await Problem(response, 502);
        await AssertNothingStored(http, "u");
    }

    [Fact]
    public async Task A_reply_over_the_cap_is_not_stored()
    {
        _model.Chat = request => IsExtraction(request) ? new(NoExtraction) : new(Content: new string('x', 3_000_000));
        using var service = ChatRequests.Service(_model);
        var http = service.Client();

        var response = await http.PostAsync("/api/users/u/chat", Json("""{"message":"say a lot"}"""));

        await Problem(response, 502);
        await AssertNothingStored(http, "u");
    }

    [Fact]
    public async Task Tool_call_results_are_always_objects_and_malformed_arguments_are_shown_raw()
    {
        var step = 0;
        _model.Chat = request => IsExtraction(request) ? new(NoExtraction)
            : Interlocked.Increment(ref step) == 1
                ? new(ToolCalls: [("no_such_tool", """{"x":1}"""), ("archive_content", """{"content": not json"""), ("archive_content", """{"content":""}"""), ("archive_content", """{"content":"fine"}""")])
                : new("done");
        using var service = ChatRequests.Service(_model);

        var turn = await Ok(await service.Client().PostAsync("/api/users/u/chat", Json("""{"message":"go"}""")));

        var calls = turn["toolCalls"]!.AsArray();
        Assert.Equal(4, calls.Count);
        Assert.All(calls, c => Assert.IsType<JsonObject>(c!["result"]));
        Assert.NotNull(calls[0]!["result"]!["error"]);
        Assert.Equal("""{"content": not json""", (string?)calls[1]!["arguments"]);
        Assert.NotNull(calls[1]!["result"]!["error"]);
        Assert.NotNull(calls[2]!["result"]!["error"]);
        Assert.Equal("fine", (string?)calls[3]!["arguments"]!["content"]);
        Assert.Null(calls[3]!["result"]!["error"]);
    }

    [Fact]
    public async Task A_tool_call_with_a_lone_surrogate_is_an_error_for_the_model_not_a_500()
    {
        var step = 0;
        _model.Chat = request => IsExtraction(request) ? new("""{"core":[{"label":"human","line":"bad \ud800 text"}],"archive":[]}""")
            : Interlocked.Increment(ref step) == 1
                ? new(ToolCalls: [("archive_content", """{"content":"bad \ud800 text"}"""), ("update_core_memory", """{"field":"human","value":"\udc00"}""")])
                : new("done");
        using var service = ChatRequests.Service(_model);
        var http = service.Client();

        var response = await http.PostAsync("/api/users/u/chat", Json("""{"message":"go"}"""));
        Assert.True(response.IsSuccessStatusCode, string.Join('\n', service.Logs.AtLeast(LogLevel.Warning).Select(e => e.AllText)));
        var turn = await Ok(response);

        Assert.All(turn["toolCalls"]!.AsArray(), c => Assert.NotNull(c!["result"]!["error"]));
        Assert.Empty((await Ok(await http.GetAsync("/api/users/u/memory/archive")))["items"]!.AsArray());
        Assert.Empty(service.Logs.AtLeast(LogLevel.Error));
    }

    [Theory]
    [InlineData("s\n")]
    [InlineData("s\r\n")]
    public async Task A_session_id_with_a_trailing_newline_is_a_400(string sessionId)
    {
        using var service = ChatRequests.Service(_model);

        await Problem(await service.Client().PostAsync("/api/users/u/chat", Json(new JsonObject { ["message"] = "hi", ["sessionId"] = sessionId }.ToJsonString())), 400);
        Assert.Empty(_model.Requests);
    }

    [Theory]
    [MemberData(nameof(EncodingTests.BadTexts), MemberType = typeof(EncodingTests))]
    public async Task Bad_text_in_a_chat_message_is_a_400_and_calls_no_model(string what, string bad)
    {
        _ = what;
        using var service = ChatRequests.Service(_model);

        await Problem(await service.Client().PostAsync("/api/users/u/chat", EncodingTests.Body("""{"message":%S}""", bad)), 400);

        Assert.Empty(_model.Requests);
        Assert.Empty(service.Logs.AtLeast(LogLevel.Error));
    }
}
