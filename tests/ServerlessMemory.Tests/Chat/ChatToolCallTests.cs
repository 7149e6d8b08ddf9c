using System.Text.Json.Nodes;
using ServerlessMemory.Tests.Scripted;
using static ServerlessMemory.Tests.Api.HttpAssert;
using static ServerlessMemory.Tests.Chat.ChatRequests;

namespace ServerlessMemory.Tests.Chat;

/// <summary>Tool calls as a model really sends them: Letta's names, and ids that repeat or are missing.</summary>
public sealed class ChatToolCallTests : IAsyncLifetime
{
    private ScriptedModelServer _model = null!;

    public async Task InitializeAsync() => _model = await ScriptedModelServer.StartAsync();

    public async Task DisposeAsync() => await _model.DisposeAsync();

    private static async Task<string> Block(HttpClient http, string user, string label) =>
        (string)(await Ok(await http.GetAsync($"/api/users/{user}/memory/core")))["blocks"]!.AsArray()
            .Single(b => (string?)b!["label"] == label)!["value"]!;

    private static async Task<JsonArray> Archive(HttpClient http, string user) =>
        (await Ok(await http.GetAsync($"/api/users/{user}/memory/archive?limit=100")))["items"]!.AsArray();

    private static async Task<JsonArray> Messages(HttpClient http, string user) =>
        (await Ok(await http.GetAsync($"/api/users/{user}/messages?limit=100")))["items"]!.AsArray();

    /// <summary>The model calls the given tools once, then answers "done".</summary>
    private void CallsOnce(IReadOnlyList<(string, string)> calls, IReadOnlyList<string?>? ids = null) =>
        _model.Chat = request =>
            IsExtraction(request) ? new(NoExtraction)
            : HasToolResult(request) ? new("done")
            : new(ToolCalls: calls, CallIds: ids);

    [Fact]
    public async Task Lettas_tool_names_work_from_the_model_with_lettas_argument_names()
    {
        CallsOnce(
        [
            ("core_memory_append", """{"label":"key_facts","content":"works on churn prediction","request_heartbeat":true}"""),
            ("core_memory_replace", """{"label":"key_facts","old_content":"churn prediction","new_content":"customer-churn prediction"}"""),
            ("archival_memory_insert", """{"content":"uses XGBoost"}"""),
            ("archival_memory_search", """{"query":"XGBoost"}"""),
            ("conversation_search", """{"query":"churn"}"""),
        ]);
        using var service = ChatRequests.Service(_model);
        var http = service.Client();

        var turn = await Ok(await http.PostAsync("/api/users/letta/chat", Json("""{"message":"remember my project"}""")));

        Assert.Equal("works on customer-churn prediction", await Block(http, "letta", "key_facts"));
        Assert.Equal("uses XGBoost", (string?)Assert.Single(await Archive(http, "letta"))!["content"]);
        var calls = turn["toolCalls"]!.AsArray();
        Assert.Equal(["core_memory_append", "core_memory_replace", "archival_memory_insert", "archival_memory_search", "conversation_search"],
            calls.Select(c => (string?)c!["name"]));
        Assert.All(calls, c => Assert.Null(c!["result"]?["error"]));
        Assert.Equal("uses XGBoost", (string?)calls[3]!["result"]!["results"]![0]!["content"]);
        var toolMessages = ChatRequests.Messages(_model.Requests.Select(r => r.Body).Last(IsMain)).Where(m => (string?)m!["role"] == "tool");
        Assert.All(toolMessages, m => Assert.DoesNotContain("not found", m!["content"]!.ToString(), StringComparison.OrdinalIgnoreCase));
        // Letta's names are callable, not advertised: the model is offered one name per tool.
        var offered = _model.Requests.Select(r => r.Body).First(IsMain)["tools"]!.AsArray().Select(t => (string?)t!["function"]!["name"]);
        Assert.Equal(["search_archive", "archive_content", "update_core_memory", "search_conversation"], offered);
    }

    [Fact]
    public async Task Two_tool_calls_with_one_id_answer_200_with_what_they_stored()
    {
        CallsOnce([("archive_content", """{"content":"first of two"}"""), ("archive_content", """{"content":"second of two"}""")], ["call_same", "call_same"]);
        using var service = ChatRequests.Service(_model);
        var http = service.Client();

        var turn = await Ok(await http.PostAsync("/api/users/dup/chat", Json("""{"message":"remember both"}""")));

        Assert.Equal(["first of two", "second of two"], (await Archive(http, "dup")).Select(i => (string?)i!["content"]).Order());
        Assert.Equal(2, (await Messages(http, "dup")).Count);
        var results = turn["toolCalls"]!.AsArray().Select(c => (bool?)c!["result"]!["stored"]).ToList();
        Assert.Equal([true, true], results);
        Assert.Equal("done", (string?)turn["reply"]);
        // The model is sent back ids that tell its calls apart, each answered by one tool message.
        var second = ChatRequests.Messages(_model.Requests.Select(r => r.Body).Last(IsMain));
        var callIds = second.Where(m => m!["tool_calls"] is not null).SelectMany(m => m!["tool_calls"]!.AsArray()).Select(c => (string?)c!["id"]).ToList();
        var answered = second.Where(m => (string?)m!["role"] == "tool").Select(m => (string?)m!["tool_call_id"]).ToList();
        Assert.Equal(2, callIds.Distinct().Count());
        Assert.Equal(callIds.Order(), answered.Order());
    }

    [Fact]
    public async Task A_tool_call_with_an_empty_id_answers_200_with_what_it_stored()
    {
        CallsOnce([("archive_content", """{"content":"kept despite the id"}""")], [""]);
        using var service = ChatRequests.Service(_model);
        var http = service.Client();

        var turn = await Ok(await http.PostAsync("/api/users/noid/chat", Json("""{"message":"remember"}""")));

        Assert.Equal("kept despite the id", (string?)Assert.Single(await Archive(http, "noid"))!["content"]);
        Assert.True((bool)turn["toolCalls"]![0]!["result"]!["stored"]!);
        Assert.Equal(2, (await Messages(http, "noid")).Count);
    }

    [Fact]
    public async Task A_tool_call_without_an_id_is_asked_again_and_then_a_503_that_changed_nothing()
    {
        CallsOnce([("archive_content", """{"content":"never stored"}""")], [null]);
        using var service = ChatRequests.Service(_model);
        var http = service.Client();

        var response = await http.PostAsync("/api/users/noid/chat", Json("""{"message":"remember"}"""));

        await Problem(response, 503);
        Assert.NotNull(response.Headers.RetryAfter);
        Assert.Equal(2, _model.Requests.Select(r => r.Body).Count(IsMain));
        Assert.Empty(await Archive(http, "noid"));
        Assert.Empty(await Messages(http, "noid"));
    }
}
