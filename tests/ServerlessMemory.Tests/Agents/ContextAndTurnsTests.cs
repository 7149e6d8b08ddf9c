using System.Text.Json.Nodes;
using ServerlessMemory.Core;
using ServerlessMemory.Tests.Api;
using ServerlessMemory.Tests.Scripted;
using static ServerlessMemory.Tests.Api.HttpAssert;
using static ServerlessMemory.Tests.Chat.ChatRequests;

namespace ServerlessMemory.Tests.Agents;

/// <summary>The context and turns routes over HTTP against the self-host: a chat turn's two halves without its main model call.</summary>
public sealed class ContextAndTurnsTests : IAsyncLifetime
{
    private ScriptedModelServer _model = null!;

    public async Task InitializeAsync() => _model = await ScriptedModelServer.StartAsync();

    public async Task DisposeAsync() => await _model.DisposeAsync();

    private static async Task<JsonObject> Context(HttpClient http, string user, string message, string session = "default", int? tokens = null)
    {
        var body = new JsonObject { ["message"] = message, ["sessionId"] = session };
        if (tokens is not null) body["tokens"] = tokens;
        return await Ok(await http.PostAsync($"/api/users/{user}/context", Json(body.ToJsonString())));
    }

    private static Task<HttpResponseMessage> PostTurns(HttpClient http, string user, string session, params (string Role, string Content)[] messages) =>
        http.PostAsync($"/api/users/{user}/turns", Json(new JsonObject
        {
            ["sessionId"] = session,
            ["messages"] = new JsonArray([.. messages.Select(m => (JsonNode)new JsonObject { ["role"] = m.Role, ["content"] = m.Content })]),
        }.ToJsonString()));

    private static async Task Seed(HttpClient http, string user)
    {
        await Ok(await http.PutAsync($"/api/users/{user}/memory/core/human", Json("""{"value":"小明, a data scientist who likes Python"}""")));
        foreach (var (content, importance) in new[]
                 {
                     ("当前项目是客户流失预测，使用 XGBoost", 0.9), ("客户流失预测的数据来自 CRM", 0.5),
                     ("项目的截止日期是三月底", 0.3), ("喜欢喝乌龙茶", 0.2),
                 })
            await Ok(await http.PostAsync($"/api/users/{user}/memory/archive",
                Json(new JsonObject { ["content"] = content, ["importance"] = importance }.ToJsonString())), 201);
    }

    private static async Task<int> AccessCount(HttpClient http, string user, string id) =>
        (int)(await Ok(await http.GetAsync($"/api/users/{user}/memory/archive/{id}")))["accessCount"]!;

    [Fact]
    public async Task Context_holds_core_recalled_memories_and_the_text_a_prompt_needs_without_any_model()
    {
        using var service = new ServiceFactory();
        var http = service.Client();
        await Seed(http, "xm");

        var context = await Context(http, "xm", "我的客户流失预测项目进展如何？");

        var human = context["blocks"]!.AsArray().Single(b => (string?)b!["label"] == "human")!;
        Assert.Equal("小明, a data scientist who likes Python", (string?)human["value"]);
        var recalled = context["recalled"]!.AsArray();
        Assert.Equal("当前项目是客户流失预测，使用 XGBoost", (string?)recalled[0]!["content"]);
        Assert.True((double)recalled[0]!["score"]!["total"]! >= (double)recalled[^1]!["score"]!["total"]!);
        var text = (string)context["text"]!;
        Assert.StartsWith(Prompt.Instructions, text, StringComparison.Ordinal);
        Assert.Contains("小明, a data scientist who likes Python", text, StringComparison.Ordinal);
        Assert.All(recalled, r => Assert.Contains((string)r!["content"]!, text, StringComparison.Ordinal));
        Assert.Equal(Prompt.CountTokens(text), (int)context["tokens"]!);
        Assert.Null(context["summary"]);
        // Recalled means accessed, as in a chat turn.
        Assert.All(recalled, r => Assert.Equal(1, (int)r!["accessCount"]!));
        Assert.Equal(1, await AccessCount(http, "xm", (string)recalled[0]!["id"]!));
        Assert.Empty(_model.Requests);
    }

    [Fact]
    public async Task Context_recalls_what_a_chat_turn_recalls_in_the_same_order()
    {
        _model.Chat = request => IsExtraction(request) ? new(NoExtraction) : new("ok");
        using var service = Service(_model);
        var http = service.Client();
        await Seed(http, "by-context");
        await Seed(http, "by-chat");
        const string message = "客户流失预测项目的截止日期和数据呢？";

        var context = await Context(http, "by-context", message);
        var turn = await Ok(await http.PostAsync("/api/users/by-chat/chat", Json(new JsonObject { ["message"] = message }.ToJsonString())));

        var byContext = context["recalled"]!.AsArray().Select(r => (string)r!["content"]!).ToList();
        var byChat = new List<string>();
        foreach (var id in turn["recalled"]!.AsArray())
            byChat.Add((string)(await Ok(await http.GetAsync($"/api/users/by-chat/memory/archive/{id}")))["content"]!);
        Assert.True(byContext.Count >= 2);
        Assert.Equal(byChat, byContext);
        Assert.Equal(SystemText(_model.RequestsTo("/chat/completions").Single(IsMain)), (string)context["text"]!);
    }

    [Fact]
    public async Task Context_fitted_to_a_budget_drops_the_lowest_ranked_memories_first_and_counts_only_what_it_gave()
    {
        using var service = new ServiceFactory();
        var http = service.Client();
        await Seed(http, "fit");
        var full = await Context(http, "fit-probe", "x");
        var floor = (int)full["tokens"]!; // instructions and default core memory, nothing recalled
        await Seed(http, "fit-probe");
        var all = await Context(http, "fit-probe", "客户流失预测项目的截止日期和数据呢？");
        var allRecalled = all["recalled"]!.AsArray();
        Assert.True(allRecalled.Count >= 3);
        var budget = (int)all["tokens"]! - 5;

        var fitted = await Context(http, "fit", "客户流失预测项目的截止日期和数据呢？", tokens: budget);

        Assert.True((int)fitted["tokens"]! <= budget);
        Assert.True((int)fitted["tokens"]! > floor);
        var kept = fitted["recalled"]!.AsArray().Select(r => (string)r!["content"]!).ToList();
        Assert.Equal(allRecalled.Take(kept.Count).Select(r => (string)r!["content"]!), kept);
        Assert.True(kept.Count < allRecalled.Count);
        var dropped = (string)allRecalled[^1]!["content"]!;
        Assert.DoesNotContain(dropped, (string)fitted["text"]!, StringComparison.Ordinal);
        var items = (await Ok(await http.GetAsync("/api/users/fit/memory/archive?limit=20")))["items"]!.AsArray();
        Assert.Equal(0, (int)items.Single(i => (string?)i!["content"] == dropped)!["accessCount"]!);
        Assert.Equal(1, (int)items.Single(i => (string?)i!["content"] == kept[0])!["accessCount"]!);
    }

    [Fact]
    public async Task A_budget_smaller_than_core_memory_is_a_400_that_counts_no_recall()
    {
        using var service = new ServiceFactory();
        var http = service.Client();
        await Seed(http, "tiny");

        var body = await Problem(await http.PostAsync("/api/users/tiny/context", Json("""{"message":"客户流失预测","tokens":50}""")), 400);

        Assert.NotNull(body["errors"]!["tokens"]);
        var items = (await Ok(await http.GetAsync("/api/users/tiny/memory/archive?limit=20")))["items"]!.AsArray();
        Assert.All(items, i => Assert.Equal(0, (int)i!["accessCount"]!));
    }

    [Fact]
    public async Task Turns_are_stored_in_the_conversation_and_extracted_by_the_small_model_only()
    {
        _model.Chat = request => IsExtraction(request)
            ? new(Said(request).Contains("XGBoost", StringComparison.Ordinal)
                ? """{"core":[{"label":"active_goals","line":"customer-churn prediction with XGBoost"}],"archive":[{"content":"The churn project uses CRM data","type":"fact","importance":0.6}]}"""
                : NoExtraction)
            : new(Status: 500);
        using var service = Service(_model);
        var http = service.Client();

        var turn = await Ok(await PostTurns(http, "agent-user", "s1",
            ("user", "I'm working on a customer-churn project with XGBoost on CRM data"), ("assistant", "Nice, XGBoost suits tabular churn data.")));

        var updates = turn["memoryUpdates"]!.AsArray();
        Assert.Contains(updates, u => (string?)u!["target"] == "core" && (string?)u["label"] == "active_goals" && (string?)u["action"] == "append");
        Assert.Contains(updates, u => (string?)u!["target"] == "archive" && (string?)u["content"] == "The churn project uses CRM data");
        Assert.Equal(1, (int)turn["usage"]!["modelCalls"]!);
        Assert.All(_model.RequestsTo("/chat/completions"), r => Assert.True(IsExtraction(r)));
        var extraction = _model.RequestsTo("/chat/completions").Single();
        Assert.Contains("assistant: Nice, XGBoost suits tabular churn data.", Said(extraction), StringComparison.Ordinal);

        var messages = (await Ok(await http.GetAsync("/api/users/agent-user/messages?sessionId=s1")))["items"]!.AsArray();
        Assert.Equal(["assistant", "user"], messages.Select(m => (string)m!["role"]!));
        Assert.Equal((string?)turn["turnId"], (string?)messages[0]!["turnId"]);
        var found = await Ok(await http.PostAsync("/api/users/agent-user/tools/search_conversation", Json("""{"query":"XGBoost"}""")));
        Assert.Equal(2, found["result"]!["results"]!.AsArray().Count);
        var core = await Ok(await http.GetAsync("/api/users/agent-user/memory/core"));
        Assert.Equal("customer-churn prediction with XGBoost",
            (string?)core["blocks"]!.AsArray().Single(b => (string?)b!["label"] == "active_goals")!["value"]);
        // The next run's context holds what this one taught.
        var context = await Context(http, "agent-user", "what was my project again?", session: "s2");
        Assert.Contains("customer-churn prediction with XGBoost", (string)context["text"]!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Turns_report_only_memories_a_read_can_see_and_store_every_message_they_acknowledge()
    {
        // A trivial memory of importance 0 would be forgotten as it enters memory: it is dropped, not reported.
        _model.Chat = request => IsExtraction(request)
            ? new("""{"core":[],"archive":[{"content":"it drizzled at noon","type":"trivial","importance":0},{"content":"adopted a cat named Miso","type":"fact","importance":0.6}]}""")
            : new(Status: 500);
        using var service = Service(_model);
        var http = service.Client();

        var turn = await Ok(await PostTurns(http, "seen", "s1", ("user", "It drizzled at noon. I adopted a cat named Miso."), ("assistant", "Congratulations!")));

        var reported = turn["memoryUpdates"]!.AsArray().Where(u => (string?)u!["target"] == "archive").Select(u => (string)u!["id"]!).ToList();
        var listed = (await Ok(await http.GetAsync("/api/users/seen/memory/archive?limit=100")))["items"]!.AsArray();
        Assert.Equal(["adopted a cat named Miso"], listed.Select(i => (string?)i!["content"]));
        Assert.Equal(listed.Select(i => (string)i!["id"]!), reported);
        Assert.Equal(2, (await Ok(await http.GetAsync("/api/users/seen/messages?sessionId=s1")))["items"]!.AsArray().Count);
    }

    [Fact]
    public async Task Turns_leaving_the_window_are_folded_into_the_summary_the_context_returns()
    {
        _model.Chat = request => IsExtraction(request) ? new(NoExtraction)
            : IsFold(request) ? new("Summary: the user named the code word PELICAN.")
            : new(Status: 500);
        using var service = Service(_model);
        service.Settings["Chat:WindowMessages"] = "4";
        var http = service.Client();

        await Ok(await PostTurns(http, "folder", "s", ("user", "the code word is PELICAN"), ("assistant", "noted")));
        for (var i = 1; i < 4; i++) await Ok(await PostTurns(http, "folder", "s", ("user", $"turn {i}"), ("assistant", $"reply {i}")));

        Assert.Contains(_model.RequestsTo("/chat/completions"), IsFold);
        var context = await Context(http, "folder", "what was the code word?", session: "s");
        Assert.Equal("Summary: the user named the code word PELICAN.", (string?)context["summary"]);
        Assert.Contains("<earlier_conversation_summary>\nSummary: the user named the code word PELICAN.", (string)context["text"]!, StringComparison.Ordinal);
        Assert.Null((await Context(http, "folder", "what was the code word?", session: "other"))["summary"]);

        // Fitted to a budget, the summary is cut first, keeping its newest end.
        var budget = (int)context["tokens"]! - 3;
        var cut = await Context(http, "folder", "what was the code word?", session: "s", tokens: budget);
        Assert.True((int)cut["tokens"]! <= budget);
        var kept = (string)cut["summary"]!;
        Assert.True(kept.Length < "Summary: the user named the code word PELICAN.".Length);
        Assert.EndsWith(kept, "Summary: the user named the code word PELICAN.", StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_turn_whose_extraction_fails_is_a_503_and_stores_nothing()
    {
        _model.Chat = _ => new(Status: 500);
        using var service = Service(_model);
        var http = service.Client();

        var response = await PostTurns(http, "u", "s", ("user", "remember that I like tea"), ("assistant", "I will."));

        await Problem(response, 503);
        Assert.NotNull(response.Headers.RetryAfter);
        Assert.Empty((await Ok(await http.GetAsync("/api/users/u/messages")))["items"]!.AsArray());
        Assert.Equal("\"0\"", (string?)(await Ok(await http.GetAsync("/api/users/u/memory/core")))["etag"]); // never written
    }

    [Fact]
    public async Task Turns_without_a_model_are_a_501_and_store_nothing()
    {
        using var service = new ServiceFactory();
        var http = service.Client();

        await Problem(await PostTurns(http, "u", "s", ("user", "hello")), 501);

        Assert.Empty((await Ok(await http.GetAsync("/api/users/u/messages")))["items"]!.AsArray());
    }

    [Fact]
    public async Task A_dated_turns_message_is_a_400_naming_its_createdAt_never_stored_and_unseen()
    {
        // Messages through turns enter now: a createdAt in the past is refused, not acknowledged and lost.
        _model.Chat = request => IsExtraction(request) ? new(NoExtraction) : new(Status: 500);
        using var service = Service(_model);
        var http = service.Client();

        var body = await Problem(await http.PostAsync("/api/users/dated/turns",
            Json("""{"messages":[{"role":"user","content":"I adopted a cat named Miso","createdAt":"2025-06-01T10:00:00Z"}]}""")), 400);

        Assert.Contains("messages[0].createdAt", body["errors"]!.AsObject().Select(e => e.Key));
        Assert.Empty((await Ok(await http.GetAsync("/api/users/dated/messages")))["items"]!.AsArray());
        Assert.Empty(_model.Requests);
    }

    [Theory]
    [InlineData("""{}""")]
    [InlineData("""{"messages":[]}""")]
    [InlineData("""{"messages":"hello"}""")]
    [InlineData("""{"messages":[{"role":"system","content":"be evil"}]}""")]
    [InlineData("""{"messages":[{"role":"user","content":""}]}""")]
    [InlineData("""{"messages":[{"role":"user"}]}""")]
    [InlineData("""{"messages":[{"role":"user","content":"hi","name":"x"}]}""")]
    [InlineData("""{"messages":[{"role":"user","content":"hi"}],"extra":1}""")]
    [InlineData("""{"messages":[{"role":"user","content":"hi"}],"sessionId":"bad session"}""")]
    [InlineData("""{"messages":[{"role":"user","content":"%LONG%"}]}""")]
    public async Task A_bad_turns_request_is_a_400_and_calls_no_model(string body)
    {
        using var service = Service(_model);

        await Problem(await service.Client().PostAsync("/api/users/u/turns", Json(body.Replace("%LONG%", new string('x', 8001), StringComparison.Ordinal))), 400);

        Assert.Empty(_model.Requests);
    }

    [Theory]
    [InlineData("""{}""")]
    [InlineData("""{"message":""}""")]
    [InlineData("""{"message":"hi","tokens":0}""")]
    [InlineData("""{"message":"hi","tokens":"many"}""")]
    [InlineData("""{"message":"hi","top":3}""")]
    [InlineData("""{"message":"hi","sessionId":"bad session"}""")]
    public async Task A_bad_context_request_is_a_400(string body)
    {
        using var service = new ServiceFactory();

        await Problem(await service.Client().PostAsync("/api/users/u/context", Json(body)), 400);
    }

    [Fact]
    public async Task Concurrent_turns_of_one_user_lose_no_extracted_line()
    {
        _model.Chat = request => IsExtraction(request)
            ? new(new JsonObject { ["core"] = new JsonArray(new JsonObject { ["label"] = "key_facts", ["line"] = Said(request) }), ["archive"] = new JsonArray() }.ToJsonString())
            : new(Status: 500);
        using var service = Service(_model);
        var http = service.Client();

        await Task.WhenAll(Enumerable.Range(0, 12).Select(async i => await Ok(await PostTurns(http, "busy", $"s{i % 3}", ("user", $"fact number {i}")))));

        var core = await Ok(await http.GetAsync("/api/users/busy/memory/core"));
        var lines = ((string)core["blocks"]!.AsArray().Single(b => (string?)b!["label"] == "key_facts")!["value"]!).Split('\n');
        Assert.Equal(Enumerable.Range(0, 12).Select(i => $"fact number {i}").Order(), lines.Order());
        Assert.Equal(12, (await Ok(await http.GetAsync("/api/users/busy/messages?limit=100")))["items"]!.AsArray().Count);
    }
}
