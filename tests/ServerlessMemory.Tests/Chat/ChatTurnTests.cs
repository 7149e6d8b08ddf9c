using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using ServerlessMemory.Core;
using ServerlessMemory.Tests.Scripted;
using static ServerlessMemory.Tests.Api.HttpAssert;
using static ServerlessMemory.Tests.Chat.ChatRequests;

namespace ServerlessMemory.Tests.Chat;

/// <summary>Chat turns over HTTP against the self-host, with a scripted model behind the real clients.</summary>
public sealed class ChatTurnTests : IAsyncLifetime
{
    private ScriptedModelServer _model = null!;

    public async Task InitializeAsync() => _model = await ScriptedModelServer.StartAsync();

    public async Task DisposeAsync() => await _model.DisposeAsync();

    private static async Task<JsonObject> Chat(HttpClient http, string user, string message, string session = "default") =>
        await Ok(await http.PostAsync($"/api/users/{user}/chat", Json(new JsonObject { ["message"] = message, ["sessionId"] = session }.ToJsonString())));

    private static async Task<string> Block(HttpClient http, string user, string label) =>
        (string)(await Ok(await http.GetAsync($"/api/users/{user}/memory/core")))["blocks"]!.AsArray()
            .Single(b => (string?)b!["label"] == label)!["value"]!;

    [Theory]
    [InlineData("OpenAI")]
    [InlineData("AzureOpenAI")]
    public async Task The_seeds_conversation_is_answered_from_memory_in_chinese(string provider)
    {
        _model.Chat = request =>
        {
            var said = Said(request);
            if (IsExtraction(request))
            {
                return new(said switch
                {
                    _ when said.Contains("我是小明") => """{"core":[{"label":"human","line":"小明，数据科学家，喜欢 Python"}],"archive":[{"content":"用户名叫小明","type":"identity","importance":1.0}]}""",
                    _ when said.Contains("简洁") => """{"core":[{"label":"preferences","line":"偏好简洁的回答"}],"archive":[]}""",
                    _ when said.Contains("XGBoost") => """{"core":[{"label":"active_goals","line":"用 XGBoost 做客户流失预测项目"}],"archive":[{"content":"当前项目是客户流失预测，使用 XGBoost","type":"fact","importance":0.6}]}""",
                    _ => NoExtraction,
                });
            }
            var system = SystemText(request);
            return new(system.Contains("客户流失预测") ? "你在做客户流失预测项目，用的是 XGBoost。" : "好的，记住了。");
        };
        using var service = ChatRequests.Service(_model, provider);
        var http = service.Client();

        await Chat(http, "xiaoming", "我是小明，一名喜欢Python的数据科学家");
        await Chat(http, "xiaoming", "我喜欢简洁的回答");
        await Chat(http, "xiaoming", "我正在用XGBoost做一个客户流失预测项目");
        // A new session: its window is empty, so the project can only come from memory.
        var fourth = await Chat(http, "xiaoming", "我说过我在做什么项目？", session: "next-day");

        Assert.Equal("你在做客户流失预测项目，用的是 XGBoost。", (string?)fourth["reply"]);
        var lastMain = _model.Requests.Select(r => r.Body).Last(IsMain);
        Assert.Contains("客户流失预测", SystemText(lastMain));
        Assert.DoesNotContain(Messages(lastMain), m => (string?)m!["role"] == "assistant");
        Assert.Equal("小明，数据科学家，喜欢 Python", await Block(http, "xiaoming", "human"));
        Assert.Equal("偏好简洁的回答", await Block(http, "xiaoming", "preferences"));
        var messages = (await Ok(await http.GetAsync("/api/users/xiaoming/messages?limit=50")))["items"]!.AsArray();
        Assert.Equal(8, messages.Count);
        Assert.Equal("你在做客户流失预测项目，用的是 XGBoost。", (string?)messages[0]!["content"]);
        var usage = fourth["usage"]!;
        Assert.True((int)usage["modelCalls"]! >= 2);
        Assert.True((long)usage["promptTokens"]! > 0);
        if (provider == "AzureOpenAI")
            Assert.All(_model.Requests, r => Assert.StartsWith("/openai/deployments/", r.Path, StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_seeds_conversation_is_answered_from_memory_in_english()
    {
        _model.Chat = request =>
        {
            var said = Said(request);
            if (IsExtraction(request))
                return new(said.Contains("churn") ? """{"core":[{"label":"active_goals","line":"customer-churn prediction project with XGBoost"}],"archive":[]}""" : NoExtraction);
            return new(SystemText(request).Contains("customer-churn prediction") ? "Your customer-churn prediction project, with XGBoost." : "Noted.");
        };
        using var service = ChatRequests.Service(_model);
        var http = service.Client();

        await Chat(http, "xm", "I'm Xiaoming, a data scientist who likes Python");
        await Chat(http, "xm", "I prefer concise answers");
        await Chat(http, "xm", "I'm working on a customer-churn prediction project with XGBoost");
        var fourth = await Chat(http, "xm", "What project did I say I was working on?", session: "later");

        Assert.Equal("Your customer-churn prediction project, with XGBoost.", (string?)fourth["reply"]);
    }

    [Theory]
    [InlineData("OpenAI")]
    [InlineData("AzureOpenAI")]
    public async Task A_tool_result_reaches_the_models_next_request(string provider)
    {
        _model.Chat = request =>
            IsExtraction(request) ? new(NoExtraction)
            : HasToolResult(request) ? new("Found it: the churn project.")
            : new(ToolCalls: [("search_archive", """{"query":"项目"}""")]);
        using var service = ChatRequests.Service(_model, provider);
        var http = service.Client();
        await Ok(await http.PostAsync("/api/users/u/memory/archive", Json("""{"content":"当前项目是客户流失预测"}""")), 201);

        var turn = await Chat(http, "u", "我的项目是什么？");

        var second = _model.Requests.Select(r => r.Body).Last(IsMain);
        var call = Messages(second).Single(m => m!["tool_calls"] is not null)!["tool_calls"]![0]!;
        var toolMessage = Messages(second).Single(m => (string?)m!["role"] == "tool")!;
        Assert.Equal((string?)call["id"], (string?)toolMessage["tool_call_id"]);
        Assert.Contains("当前项目是客户流失预测", toolMessage["content"]!.ToString());
        Assert.Equal("Found it: the churn project.", (string?)turn["reply"]);
        var toolCall = turn["toolCalls"]!.AsArray().Single()!;
        Assert.Equal("search_archive", (string?)toolCall["name"]);
        Assert.Equal("项目", (string?)toolCall["arguments"]!["query"]);
        Assert.Contains("当前项目是客户流失预测", toolCall["result"]!.ToJsonString(new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
        Assert.Equal(3, (int)turn["usage"]!["modelCalls"]!);
    }

    [Fact]
    public async Task A_model_failing_half_way_leaves_nothing_of_the_turn()
    {
        _model.Chat = request =>
            IsExtraction(request) ? new("""{"core":[{"label":"human","line":"should not be kept"}],"archive":[]}""")
            : HasToolResult(request) ? new(Status: 500)
            : new(ToolCalls: [("archive_content", """{"content":"half-way memory"}"""), ("update_core_memory", """{"field":"key_facts","value":"half-way fact"}""")]);
        using var service = ChatRequests.Service(_model);
        var http = service.Client();

        var response = await http.PostAsync("/api/users/u/chat", Json("""{"message":"remember this"}"""));

        await Problem(response, 503);
        Assert.NotNull(response.Headers.RetryAfter);
        Assert.Empty((await Ok(await http.GetAsync("/api/users/u/memory/archive")))["items"]!.AsArray());
        Assert.Empty((await Ok(await http.GetAsync("/api/users/u/messages")))["items"]!.AsArray());
        Assert.Equal("", await Block(http, "u", "key_facts"));
        Assert.Equal("", await Block(http, "u", "human"));
        Assert.Equal("\"0\"", (string?)(await Ok(await http.GetAsync("/api/users/u/memory/core")))["etag"]); // never written
    }

    [Fact]
    public async Task Twenty_concurrent_turns_of_one_user_lose_no_core_edit()
    {
        _model.Chat = request =>
            IsExtraction(request) ? new(NoExtraction)
            : HasToolResult(request) ? new("done")
            : new(ToolCalls: [("update_core_memory", new JsonObject { ["field"] = "key_facts", ["value"] = LastUser(request) }.ToJsonString())]);
        using var service = ChatRequests.Service(_model);
        var http = service.Client();

        await Task.WhenAll(Enumerable.Range(0, 20).Select(i => Chat(http, "busy", $"fact number {i}", session: $"s{i % 3}")));

        var lines = (await Block(http, "busy", "key_facts")).Split('\n');
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"fact number {i}").Order(), lines.Order());
        Assert.Equal(40, (await Ok(await http.GetAsync("/api/users/busy/messages?limit=100")))["items"]!.AsArray().Count);
    }

    [Fact]
    public async Task Retry_after_is_honoured_then_the_turn_completes()
    {
        var failed = 0;
        _model.Chat = request =>
            IsExtraction(request) ? new(NoExtraction)
            : Interlocked.Increment(ref failed) == 1 ? new(Status: 429, RetryAfter: "1")
            : new("after the wait");
        using var service = ChatRequests.Service(_model);
        var http = service.Client();
        var clock = Stopwatch.StartNew();

        var turn = await Chat(http, "u", "hello");

        Assert.Equal("after the wait", (string?)turn["reply"]);
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(0.9), $"waited only {clock.Elapsed}");
    }

    [Fact]
    public async Task A_long_retry_after_is_passed_on_as_a_503_without_waiting()
    {
        _model.Chat = request => IsExtraction(request) ? new(NoExtraction) : new(Status: 429, RetryAfter: "120");
        using var service = ChatRequests.Service(_model);
        var http = service.Client();
        var clock = Stopwatch.StartNew();

        var response = await http.PostAsync("/api/users/u/chat", Json("""{"message":"hello"}"""));

        await Problem(response, 503);
        Assert.Equal(TimeSpan.FromSeconds(120), response.Headers.RetryAfter!.Delta);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task A_turn_past_its_timeout_is_a_503_and_changes_nothing()
    {
        _model.Chat = request => IsExtraction(request) ? new(NoExtraction) : new("too late", Delay: TimeSpan.FromSeconds(5));
        using var service = ChatRequests.Service(_model);
        service.Settings["Chat:TurnTimeout"] = "00:00:01";
        var http = service.Client();

        var response = await http.PostAsync("/api/users/slow/chat", Json("""{"message":"hello"}"""));

        await Problem(response, 503);
        Assert.Empty((await Ok(await http.GetAsync("/api/users/slow/messages")))["items"]!.AsArray());
    }

    [Theory]
    [InlineData("""{}""")]
    [InlineData("""{"message":""}""")]
    [InlineData("""{"message":"hi","sessionId":"bad session"}""")]
    [InlineData("""{"message":"hi","extra":1}""")]
    [InlineData("""{"message":"%LONG%"}""")]
    public async Task A_bad_chat_request_is_a_400_and_calls_no_model(string body)
    {
        using var service = ChatRequests.Service(_model);

        await Problem(await service.Client().PostAsync("/api/users/u/chat", Json(body.Replace("%LONG%", new string('x', 8001), StringComparison.Ordinal))), 400);
        Assert.Empty(_model.Requests);
    }

    [Fact]
    public async Task A_message_and_a_reply_at_their_limits_in_characters_are_kept_however_utf16_encodes_them()
    {
        var reply = string.Concat(Enumerable.Repeat("𠀀", 100));
        _model.Chat = request => ChatRequests.IsMain(request) ? new(reply) : new(ChatRequests.NoExtraction);
        using var service = ChatRequests.Service(_model);
        service.Settings["Memory:Limits:ReplyChars"] = "100";
        var message = new string('x', 7_999) + "😀";

        var turn = await Ok(await service.Client().PostAsync("/api/users/emoji/chat", Json(new JsonObject { ["message"] = message }.ToJsonString())));
        var refused = await Problem(await service.Client().PostAsync("/api/users/emoji/chat", Json(new JsonObject { ["message"] = message + "😀" }.ToJsonString())), 400);

        Assert.Equal(reply, (string?)turn["reply"]);
        Assert.Contains("has 8001 characters", (string?)refused["detail"], StringComparison.Ordinal);
        var stored = (await Ok(await service.Client().GetAsync("/api/users/emoji/messages")))["items"]!.AsArray();
        Assert.Equal([reply, message], stored.Select(m => (string?)m!["content"]));
    }

    [Fact]
    public async Task Two_hundred_turns_keep_the_prompt_within_its_budget_and_the_past_searchable()
    {
        const int budget = 1_200;
        _model.Chat = request =>
            IsExtraction(request) ? new(NoExtraction)
            : IsFold(request) ? new("Summary: the user counted turns; turn 0 mentioned the code word PELICAN.")
            : new($"Reply to: {LastUser(request)}. " + string.Concat(Enumerable.Repeat("Some more words to fill the window. ", 5)));
        using var service = ChatRequests.Service(_model);
        service.Settings["Chat:PromptTokens"] = budget.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var http = service.Client();

        await Chat(http, "long", "turn 0: the code word is PELICAN");
        for (var i = 1; i < 200; i++) await Chat(http, "long", $"turn {i}: " + string.Concat(Enumerable.Repeat("and so on ", 8)));

        var mains = _model.Requests.Select(r => r.Body).Where(IsMain).ToList();
        Assert.Equal(200, mains.Count);
        var tokens = mains.Select(m => Messages(m).Sum(x => Prompt.CountTokens(x!["content"]!.ToString()) + 4)).ToList();
        Assert.All(tokens, t => Assert.True(t <= budget, $"a prompt of {t} tokens"));
        Assert.Contains("PELICAN", SystemText(mains[^1]));
        Assert.Contains(_model.Requests, r => IsFold(r.Body));
        var found = await Ok(await http.PostAsync("/api/users/long/tools/search_conversation", Json("""{"query":"PELICAN"}""")));
        Assert.Contains("PELICAN", (string?)found["result"]!["results"]![0]!["content"]);
    }
}
