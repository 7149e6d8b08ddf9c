using System.Text.Json.Nodes;
using ServerlessMemory.Tests.Functions.Host;
using static ServerlessMemory.Tests.Api.HttpAssert;

namespace ServerlessMemory.Tests.Api;

/// <summary>The memory tools over HTTP, against each host (below).</summary>
public abstract class ToolsApiTests(HttpClient http)
{
    /// <summary>Lets the host's clock pass this long (a host on the real clock just waits a little).</summary>
    protected virtual Task PassAsync(TimeSpan time) => Task.Delay(TimeSpan.FromMilliseconds(20));

    private readonly HttpClient _http = http;

    private static string NewUser() => "tools-" + Guid.NewGuid().ToString("N")[..8];

    private async Task<JsonNode> Call(string user, string tool, string args) =>
        (await Ok(await _http.PostAsync($"/api/users/{user}/tools/{tool}", Json(args))))["result"]!;

    private async Task<string> Block(string user, string label) =>
        (string)(await Ok(await _http.GetAsync($"/api/users/{user}/memory/core")))["blocks"]!.AsArray()
            .Single(b => (string?)b!["label"] == label)!["value"]!;

    [Fact]
    public async Task The_tools_are_listed_as_openai_function_definitions()
    {
        var tools = (await Ok(await _http.GetAsync("/api/tools")))["tools"]!.AsArray();

        Assert.Equal(["search_archive", "archive_content", "update_core_memory", "search_conversation"],
            tools.Select(t => (string?)t!["function"]!["name"]));
        Assert.All(tools, t =>
        {
            Assert.Equal("function", (string?)t!["type"]);
            Assert.Equal("object", (string?)t["function"]!["parameters"]!["type"]);
            Assert.NotEmpty(t["function"]!["parameters"]!["required"]!.AsArray());
        });
    }

    [Fact]
    public async Task Append_adds_a_line_once()
    {
        var user = NewUser();
        await Call(user, "update_core_memory", """{"field":"preferences","value":"prefers concise answers"}""");
        await Call(user, "update_core_memory", """{"field":"preferences","value":"likes Python"}""");
        await Call(user, "update_core_memory", """{"field":"preferences","value":"prefers concise answers"}""");

        Assert.Equal("prefers concise answers\nlikes Python", await Block(user, "preferences"));
    }

    [Fact]
    public async Task Replace_swaps_exact_text_or_overwrites_the_block()
    {
        var user = NewUser();
        await Call(user, "update_core_memory", """{"field":"human","value":"Name: Xiaoming\nRole: student"}""");
        await Call(user, "update_core_memory", """{"field":"human","value":"Role: data scientist","mode":"replace","old":"Role: student"}""");
        Assert.Equal("Name: Xiaoming\nRole: data scientist", await Block(user, "human"));

        await Call(user, "update_core_memory", """{"field":"human","value":"小明","mode":"replace"}""");
        Assert.Equal("小明", await Block(user, "human"));
    }

    [Fact]
    public async Task Lettas_names_are_accepted_as_aliases()
    {
        var user = NewUser();
        await Call(user, "core_memory_append", """{"label":"key_facts","content":"works on churn prediction"}""");
        await Call(user, "core_memory_replace", """{"label":"key_facts","old_content":"churn prediction","new_content":"customer-churn prediction"}""");
        var stored = await Call(user, "archival_memory_insert", """{"content":"uses XGBoost"}""");
        var found = await Call(user, "archival_memory_search", """{"query":"XGBoost"}""");

        Assert.Equal("works on customer-churn prediction", await Block(user, "key_facts"));
        Assert.True((bool)stored["stored"]!);
        Assert.Equal("uses XGBoost", (string?)found["results"]![0]!["content"]);
    }

    [Fact]
    public async Task Archived_content_is_found_by_search_and_stored_once()
    {
        var user = NewUser();
        var first = await Call(user, "archive_content", """{"content":"用户今天喝了一杯咖啡","type":"trivial","importance":0.1}""");
        var again = await Call(user, "archive_content", """{"content":"用户今天喝了一杯咖啡"}""");

        var found = await Call(user, "search_archive", """{"query":"咖啡","top_k":3}""");

        Assert.True((bool)first["stored"]!);
        Assert.True((bool)again["duplicate"]!);
        var hit = Assert.Single(found["results"]!.AsArray());
        Assert.Equal((string?)first["id"], (string?)hit!["id"]);
        Assert.Equal("trivial", (string?)hit["type"]);
    }

    [Fact]
    public async Task Archiving_a_replaced_memory_again_tells_the_model_it_is_current_again()
    {
        var user = NewUser();
        var beijing = await Call(user, "archive_content", """{"content":"The user lives in Beijing"}""");
        var beijingId = (string)beijing["id"]!;
        var moved = await _http.PostAsync($"/api/users/{user}/memory/archive",
            Json(new JsonObject { ["content"] = "The user lives in Shanghai", ["supersedes"] = new JsonArray(beijingId) }.ToJsonString()));
        Assert.Equal(System.Net.HttpStatusCode.Created, moved.StatusCode);
        await PassAsync(TimeSpan.FromMinutes(1));

        var again = await Call(user, "archive_content", """{"content":"The user lives in Beijing"}""");
        var plain = await Call(user, "archive_content", """{"content":"The user lives in Beijing"}""");

        Assert.Equal(beijingId, (string?)again["id"]);
        Assert.True((bool)again["restated"]!);
        Assert.Contains("current again", (string?)again["note"]);
        Assert.Null(plain["restated"]);
        Assert.True((bool)plain["duplicate"]!);
        var found = await Call(user, "search_archive", """{"query":"where does the user live"}""");
        Assert.Equal("The user lives in Beijing", (string?)Assert.Single(found["results"]!.AsArray())!["content"]);
    }

    [Fact]
    public async Task Search_conversation_answers_even_with_no_messages() =>
        Assert.Empty((await Call(NewUser(), "search_conversation", """{"query":"project"}"""))["results"]!.AsArray());

    [Fact]
    public async Task An_unknown_tool_is_a_404() =>
        await Problem(await _http.PostAsync($"/api/users/{NewUser()}/tools/delete_everything", Json("{}")), 404);

    [Theory]
    [InlineData("search_archive", """{}""", "query")]
    [InlineData("search_archive", """{"query":"x","top_k":50}""", "top_k")]
    [InlineData("search_archive", """{"query":"x","user":"someone-else"}""", "user")]
    [InlineData("archive_content", """{"content":"x","importance":2}""", "importance")]
    [InlineData("archive_content", """{"content":"x","type":"forever"}""", "type")]
    [InlineData("update_core_memory", """{"field":"nope","value":"x"}""", "field")]
    [InlineData("update_core_memory", """{"field":"human","value":"x","mode":"prepend"}""", "mode")]
    [InlineData("update_core_memory", """{"field":"human","value":"x","mode":"replace","old":"absent"}""", "old")]
    [InlineData("update_core_memory", """{"field":"Human!","value":"x"}""", "field")]
    [InlineData("core_memory_append", """{"field":"human","value":"x"}""", "field")]
    public async Task Arguments_that_break_the_schema_are_a_400_and_change_nothing(string tool, string args, string field)
    {
        var user = NewUser();
        var before = await Ok(await _http.GetAsync($"/api/users/{user}/memory/core"));

        var problem = await Problem(await _http.PostAsync($"/api/users/{user}/tools/{tool}", Json(args)), 400);

        Assert.NotNull(problem["errors"]![field]);
        Assert.Equal(before.ToJsonString(), (await Ok(await _http.GetAsync($"/api/users/{user}/memory/core"))).ToJsonString());
        Assert.Empty((await Ok(await _http.GetAsync($"/api/users/{user}/memory/archive")))["items"]!.AsArray());
    }

    [Fact]
    public async Task A_block_never_grows_past_its_limit_and_what_leaves_it_moves_to_the_archive()
    {
        var user = NewUser();
        await Ok(await _http.PutAsync($"/api/users/{user}/memory/core/notes", Json("""{"value":"","limit":20}""")));
        await Call(user, "update_core_memory", """{"field":"notes","value":"0123456789"}""");

        var result = await Call(user, "update_core_memory", """{"field":"notes","value":"abcdefghij"}""");

        // No model here: the oldest line makes room, and the result says where it went.
        Assert.Equal("abcdefghij", await Block(user, "notes"));
        Assert.Equal("oldest", (string?)result["consolidated"]!["by"]);
        var moved = Assert.Single(result["consolidated"]!["archived"]!.AsArray())!;
        Assert.Equal("0123456789", (string?)moved["content"]);
        Assert.Equal("0123456789", (string?)(await Ok(await _http.GetAsync($"/api/users/{user}/memory/archive/{(string?)moved["id"]}")))["content"]);
    }

    [Theory]
    [InlineData("update_core_memory")]
    [InlineData("core_memory_append")]
    public async Task Forty_appends_of_a_hundred_characters_to_a_block_of_two_thousand_lose_no_fact(string tool)
    {
        var user = NewUser();
        for (var i = 0; i < 40; i++)
        {
            var result = await Call(user, tool, tool == "update_core_memory"
                ? new JsonObject { ["field"] = "key_facts", ["value"] = KeptFacts.Fact(i) }.ToJsonString()
                : new JsonObject { ["label"] = "key_facts", ["content"] = KeptFacts.Fact(i) }.ToJsonString());
            Assert.Contains(KeptFacts.Fact(i), (string)result["value"]!);
        }

        await KeptFacts.AssertEveryFactIsInCoreOrFoundInTheArchive(_http, user, "key_facts", 40, KeptFacts.Fact);
    }

    [Fact]
    public async Task Concurrent_appends_to_one_block_lose_no_line()
    {
        var user = NewUser();
        await Task.WhenAll(Enumerable.Range(0, 20).Select(i =>
            Call(user, "update_core_memory", $$"""{"field":"key_facts","value":"fact {{i}}"}""")));

        var lines = (await Block(user, "key_facts")).Split('\n');

        Assert.Equal(20, lines.Length);
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"fact {i}").Order(), lines.Order());
    }
}

public sealed class SelfHostToolsApiTests(ServiceFactory service) : ToolsApiTests(service.Client()), IClassFixture<ServiceFactory>
{
    protected override Task PassAsync(TimeSpan time)
    {
        service.Time.Advance(time);
        return Task.CompletedTask;
    }
}

public sealed class FunctionsHostToolsApiTests(FunctionsAppFixture app) : ToolsApiTests(app.Client()), IClassFixture<FunctionsAppFixture>;
