using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ServerlessMemory.Tests.Functions.Host;
using static ServerlessMemory.Tests.Api.HttpAssert;

namespace ServerlessMemory.Tests.Api;

/// <summary>
/// The API of docs/api.md, driven over HTTP: the same tests against each host (below), so that the
/// self-host and the Functions app answer alike. Nothing here may depend on a host's clock.
/// </summary>
public abstract class MemoryApiTests(HttpClient http)
{
    private readonly HttpClient _http = http;

    private static string NewUser() => "user-" + Guid.NewGuid().ToString("N")[..8];

    private async Task<JsonObject> AddMemory(string user, string content, string type = "fact", double importance = 0.5) =>
        await Ok(await _http.PostAsync($"/api/users/{user}/memory/archive", Json(
            new JsonObject { ["content"] = content, ["type"] = type, ["importance"] = importance }.ToJsonString())), 201);

    [Fact]
    public async Task An_export_imported_into_another_user_exports_the_same_and_a_second_import_changes_nothing()
    {
        var (user, copy) = (NewUser(), NewUser());
        await Ok(await _http.PutAsync($"/api/users/{user}/memory/core/human", Json("""{"value":"小明, a data scientist"}""")));
        await AddMemory(user, "当前项目是客户流失预测", "fact", 0.6);
        await AddMemory(user, "用户名叫小明", "identity", 1);
        var document = await ImportScenario.ExportAsync(_http, user);

        var first = await Ok(await ImportScenario.ImportAsync(_http, copy, document, $"fromUserId={user}"));
        var second = await Ok(await ImportScenario.ImportAsync(_http, copy, document, $"fromUserId={user}"));

        Assert.Equal(2, ImportScenario.Tally(first, "archive").Added);
        Assert.Equal((0, 2), ((int)second["chunks"]!, ImportScenario.Tally(second, "archive").Skipped));
        ImportScenario.AssertSame(document, await ImportScenario.ExportAsync(_http, copy));
        await Problem(await ImportScenario.ImportAsync(_http, copy, document), 400); // the document is another user's
    }

    private async Task<JsonArray> Archive(string user) =>
        (await Ok(await _http.GetAsync($"/api/users/{user}/memory/archive?limit=100")))["items"]!.AsArray();

    [Fact]
    public async Task Health_says_which_store_and_model_serve()
    {
        var health = await Ok(await _http.GetAsync("/api/health"));

        Assert.Equal("ok", (string?)health["status"]);
        Assert.Equal("sqlite", (string?)health["store"]);
        Assert.Equal("none", (string?)health["model"]);
    }

    [Fact]
    public async Task A_new_user_has_the_default_blocks()
    {
        var core = await Ok(await _http.GetAsync($"/api/users/{NewUser()}/memory/core"));

        var blocks = core["blocks"]!.AsArray();
        Assert.Equal(["persona", "human", "preferences", "key_facts", "active_goals"], blocks.Select(b => (string?)b!["label"]));
        Assert.False(string.IsNullOrEmpty((string?)blocks[0]!["value"]));
        Assert.All(blocks.Skip(1), b => Assert.Equal("", (string?)b!["value"]));
        Assert.All(blocks, b => Assert.Equal(2000, (int)b!["limit"]!));
    }

    [Fact]
    public async Task A_block_is_written_with_its_etag_and_a_stale_etag_is_refused()
    {
        var user = NewUser();
        var put = await _http.PutAsync($"/api/users/{user}/memory/core/human", Json("""{"value":"小明, a data scientist who likes Python"}"""));
        var etag = put.Headers.ETag!.Tag;
        await Ok(put);
        Assert.Equal(etag, (string?)(await Ok(await _http.GetAsync($"/api/users/{user}/memory/core")))["etag"]);
        await Ok(await _http.PutAsync($"/api/users/{user}/memory/core/human", Json("""{"value":"小明"}""")));

        var stale = new HttpRequestMessage(HttpMethod.Put, $"/api/users/{user}/memory/core/human") { Content = Json("""{"value":"overwritten"}""") };
        stale.Headers.IfMatch.Add(new(etag));
        await Problem(await _http.SendAsync(stale), 412);

        var core = await Ok(await _http.GetAsync($"/api/users/{user}/memory/core"));
        Assert.Equal("小明", (string?)core["blocks"]!.AsArray().Single(b => (string?)b!["label"] == "human")!["value"]);
        Assert.NotNull((string?)core["etag"]);
        Assert.NotEqual(etag, (string?)core["etag"]);
    }

    [Fact]
    public async Task A_custom_block_can_be_created_and_deleted()
    {
        var user = NewUser();
        var block = await Ok(await _http.PutAsync($"/api/users/{user}/memory/core/project", Json("""{"value":"churn model","description":"the current project","limit":100}""")));
        Assert.Equal(100, (int)block["limit"]!);

        Assert.Equal(HttpStatusCode.NoContent, (await _http.DeleteAsync($"/api/users/{user}/memory/core/project")).StatusCode);

        var core = await Ok(await _http.GetAsync($"/api/users/{user}/memory/core"));
        Assert.DoesNotContain("project", core["blocks"]!.AsArray().Select(b => (string?)b!["label"]));
    }

    [Fact]
    public async Task Deleting_a_block_that_is_not_there_writes_nothing()
    {
        var user = NewUser();
        var before = await Ok(await _http.GetAsync($"/api/users/{user}/memory/core"));

        Assert.Equal(HttpStatusCode.NoContent, (await _http.DeleteAsync($"/api/users/{user}/memory/core/nothing")).StatusCode);

        var core = await Ok(await _http.GetAsync($"/api/users/{user}/memory/core"));
        Assert.NotNull((string?)core["etag"]);
        Assert.Equal((string?)before["etag"], (string?)core["etag"]);
        Assert.Equal(5, core["blocks"]!.AsArray().Count);
    }

    [Theory]
    [InlineData("human", """{"value":"%LONG%"}""", "value")]
    [InlineData("human", """{"value":"x","limit":0}""", "limit")]
    [InlineData("human", """{"value":"x","colour":"red"}""", "colour")]
    [InlineData("human", """{"value":42}""", "value")]
    [InlineData("human", """{}""", "value")]
    [InlineData("human", """not json""", "body")]
    [InlineData("Bad Label", """{"value":"x"}""", "label")]
    public async Task A_bad_block_write_is_a_400_and_changes_nothing(string label, string body, string field)
    {
        var user = NewUser();
        await Ok(await _http.PutAsync($"/api/users/{user}/memory/core/human", Json("""{"value":"kept"}""")));
        var before = await Ok(await _http.GetAsync($"/api/users/{user}/memory/core"));

        var problem = await Problem(await _http.PutAsync($"/api/users/{user}/memory/core/{Uri.EscapeDataString(label)}",
            Json(body.Replace("%LONG%", new string('x', 2001), StringComparison.Ordinal))), 400);

        Assert.NotNull(problem["errors"]![field]);
        Assert.Equal(before.ToJsonString(), (await Ok(await _http.GetAsync($"/api/users/{user}/memory/core"))).ToJsonString());
    }

    [Fact]
    public async Task A_read_only_block_refuses_writes_until_unlocked()
    {
        var user = NewUser();
        await Ok(await _http.PutAsync($"/api/users/{user}/memory/core/rules", Json("""{"value":"never share secrets","readOnly":true}""")));

        await Problem(await _http.PutAsync($"/api/users/{user}/memory/core/rules", Json("""{"value":"anything goes"}""")), 400);
        await Problem(await _http.PostAsync($"/api/users/{user}/tools/update_core_memory", Json("""{"field":"rules","value":"x"}""")), 400);
        var unlocked = await Ok(await _http.PutAsync($"/api/users/{user}/memory/core/rules", Json("""{"value":"be kind","readOnly":false}""")));

        Assert.Equal("be kind", (string?)unlocked["value"]);
    }

    [Fact]
    public async Task A_body_over_64_KiB_is_a_413()
    {
        var user = NewUser();
        var huge = new JsonObject { ["content"] = new string('x', 70_000) }.ToJsonString();

        await Problem(await _http.PostAsync($"/api/users/{user}/memory/archive", Json(huge)), 413);
        Assert.Empty(await Archive(user));
    }

    [Fact]
    public async Task An_archive_memory_is_created_read_and_deleted()
    {
        var user = NewUser();
        var response = await _http.PostAsync($"/api/users/{user}/memory/archive", Json(
            """{"content":"当前项目是客户流失预测","type":"fact","importance":0.6,"metadata":{"source":"chat"}}"""));
        var created = await Ok(response, 201);
        var id = (string)created["id"]!;

        Assert.Equal($"/api/users/{user}/memory/archive/{id}", response.Headers.Location!.OriginalString);
        Assert.Equal("chat", (string?)created["metadata"]!["source"]);
        Assert.NotNull(created["forgetAt"]);
        var read = await Ok(await _http.GetAsync($"/api/users/{user}/memory/archive/{id}"));
        Assert.Equal("当前项目是客户流失预测", (string?)read["content"]);
        Assert.Equal(0, (int)read["accessCount"]!);

        Assert.Equal(HttpStatusCode.NoContent, (await _http.DeleteAsync($"/api/users/{user}/memory/archive/{id}")).StatusCode);
        await Problem(await _http.GetAsync($"/api/users/{user}/memory/archive/{id}"), 404);
        await Problem(await _http.DeleteAsync($"/api/users/{user}/memory/archive/{id}"), 404);
    }

    [Fact]
    public async Task The_same_memory_is_not_stored_twice()
    {
        var user = NewUser();
        var first = await AddMemory(user, "Prefers concise answers", "preference", 0.8);

        var again = await Ok(await _http.PostAsync($"/api/users/{user}/memory/archive", Json("""{"content":"prefers  concise answers"}""")), 200);

        Assert.Equal((string?)first["id"], (string?)again["id"]);
        Assert.Single(await Archive(user));
    }

    [Theory]
    [InlineData("""{"content":""}""", "content")]
    [InlineData("""{"content":"x","type":"secret"}""", "type")]
    [InlineData("""{"content":"x","importance":1.5}""", "importance")]
    [InlineData("""{"content":"x","importance":"high"}""", "importance")]
    [InlineData("""{"content":"x","createdAt":"2999-01-01T00:00:00Z"}""", "createdAt")]
    [InlineData("""{"content":"x","createdAt":"yesterday"}""", "createdAt")]
    [InlineData("""{"content":"x","metadata":{"n":1}}""", "metadata")]
    [InlineData("""{"content":"x","metadata":"flat"}""", "metadata")]
    [InlineData("""[1,2]""", "body")]
    public async Task A_bad_archive_memory_is_a_400_and_stores_nothing(string body, string field)
    {
        var user = NewUser();

        var problem = await Problem(await _http.PostAsync($"/api/users/{user}/memory/archive", Json(body)), 400);

        Assert.NotNull(problem["errors"]![field]);
        Assert.Empty(await Archive(user));
    }

    /// <summary>4,000 characters of each: one emoji among letters, CJK extension B (two UTF-16 units each), letters with combining marks.</summary>
    public static TheoryData<string> FullMemories => new()
    {
        new string('x', 3_999) + "😀",
        string.Concat(Enumerable.Repeat("𠀀", 4_000)),
        string.Concat(Enumerable.Repeat("e\u0301", 2_000)),
    };

    [Theory]
    [MemberData(nameof(FullMemories))]
    public async Task A_memory_of_four_thousand_characters_is_accepted_however_utf16_encodes_them_and_one_more_is_not(string content)
    {
        var user = NewUser();

        var added = await Ok(await _http.PostAsync($"/api/users/{user}/memory/archive", Json(new JsonObject { ["content"] = content }.ToJsonString())), 201);
        var refused = await Problem(await _http.PostAsync($"/api/users/{user}/memory/archive", Json(new JsonObject { ["content"] = content + "😀" }.ToJsonString())), 400);
        var byTool = await Ok(await _http.PostAsync($"/api/users/{user}/tools/archive_content", Json(new JsonObject { ["content"] = "z" + content[(char.IsSurrogate(content[0]) ? 2 : 1)..] }.ToJsonString())));

        Assert.Equal(content, (string?)added["content"]);
        Assert.Contains("has 4001 characters", (string?)refused["detail"], StringComparison.Ordinal);
        Assert.Equal(true, (bool?)byTool["result"]!["stored"]);
        Assert.Equal(2, (await Archive(user)).Count);
    }

    [Fact]
    public async Task Every_limit_in_characters_counts_an_emoji_as_one()
    {
        var user = NewUser();
        string Emoji(int n) => string.Concat(Enumerable.Repeat("😀", n));

        var block = await Ok(await _http.PutAsync($"/api/users/{user}/memory/core/moods", Json(new JsonObject
        {
            ["value"] = Emoji(10), ["limit"] = 10, ["description"] = new string('d', 999) + "😀",
        }.ToJsonString())));
        await Problem(await _http.PutAsync($"/api/users/{user}/memory/core/moods", Json(new JsonObject { ["value"] = Emoji(11) }.ToJsonString())), 400);
        await Problem(await _http.PutAsync($"/api/users/{user}/memory/core/moods", Json(new JsonObject { ["value"] = "", ["description"] = new string('d', 1_000) + "😀" }.ToJsonString())), 400);
        await Ok(await _http.GetAsync($"/api/users/{user}/memory/archive?query={Uri.EscapeDataString(new string('q', 999) + "😀")}"));
        await Problem(await _http.GetAsync($"/api/users/{user}/memory/archive?query={Uri.EscapeDataString(new string('q', 1_000) + "😀")}"), 400);
        await Ok(await _http.PostAsync($"/api/users/{user}/memory/archive", Json(new JsonObject
        {
            ["content"] = "tagged", ["metadata"] = new JsonObject { [new string('k', 63) + "😀"] = new string('v', 255) + "😀" },
        }.ToJsonString())), 201);
        await Problem(await _http.PostAsync($"/api/users/{user}/memory/archive", Json(new JsonObject
        {
            ["content"] = "tagged too", ["metadata"] = new JsonObject { ["k"] = new string('v', 256) + "😀" },
        }.ToJsonString())), 400);
        var search = await Ok(await _http.PostAsync($"/api/users/{user}/tools/search_archive", Json(new JsonObject { ["query"] = new string('q', 999) + "😀" }.ToJsonString())));

        Assert.Equal(Emoji(10), (string?)block["value"]);
        Assert.NotNull(search["result"]!["results"]);
    }

    [Fact]
    public async Task Content_over_the_limit_is_refused()
    {
        var user = NewUser();
        await Problem(await _http.PostAsync($"/api/users/{user}/memory/archive", Json(new JsonObject { ["content"] = new string('长', 4001) }.ToJsonString())), 400);
        Assert.Empty(await Archive(user));
    }

    [Fact]
    public async Task Search_in_chinese_ranks_by_the_decay_aware_score_and_counts_an_access()
    {
        var user = NewUser();
        await AddMemory(user, "用户名叫小明", "identity", 1.0);
        await AddMemory(user, "用户偏好简洁的回答", "preference", 0.8);
        var project = await AddMemory(user, "当前项目是客户流失预测", "fact", 0.6);
        await AddMemory(user, "上次对话提到了周末计划", "context", 0.3);
        await AddMemory(user, "用户今天喝了一杯咖啡", "trivial", 0.1);

        var found = (await Ok(await _http.GetAsync($"/api/users/{user}/memory/archive?query={Uri.EscapeDataString("我在做什么项目")}&top=3")))["items"]!.AsArray();

        var top = found[0]!;
        Assert.Equal((string?)project["id"], (string?)top["id"]);
        Assert.Equal(1, (int)top["accessCount"]!);
        var score = top["score"]!;
        Assert.Equal((double)score["relevance"]! * 0.4 + 0.6 * (double)score["decay"]! * 0.4 + (double)score["accessBonus"]! * 0.2,
            (double)score["total"]!, 5);
        var read = await Ok(await _http.GetAsync($"/api/users/{user}/memory/archive/{project["id"]}"));
        Assert.Equal(1, (int)read["accessCount"]!);
    }

    [Fact]
    public async Task A_question_wrapped_in_chatter_finds_what_it_asks_about()
    {
        var user = NewUser();
        foreach (var content in SearchRankingTests.WrappedQuestion.Archive) await AddMemory(user, content);

        var found = (await Ok(await _http.GetAsync($"/api/users/{user}/memory/archive?query={Uri.EscapeDataString(SearchRankingTests.WrappedQuestion.Message)}&top=5")))["items"]!.AsArray();

        Assert.Contains(SearchRankingTests.WrappedQuestion.Answer, found.Select(f => (string?)f!["content"]));
    }

    [Fact]
    public async Task Listing_pages_newest_first_without_counting_access()
    {
        var user = NewUser();
        for (var i = 0; i < 5; i++)
            await Ok(await _http.PostAsync($"/api/users/{user}/memory/archive", Json(new JsonObject
                { ["content"] = $"memory number {i}", ["type"] = "identity", ["importance"] = 1.0, // never forgotten, on either host's clock
                  ["createdAt"] = new DateTimeOffset(2026, 1, 1, 8, 0, i, TimeSpan.Zero) }.ToJsonString())), 201);

        var first = await Ok(await _http.GetAsync($"/api/users/{user}/memory/archive?limit=3"));
        var second = await Ok(await _http.GetAsync($"/api/users/{user}/memory/archive?limit=3&continuationToken={Uri.EscapeDataString((string)first["continuationToken"]!)}"));

        var contents = first["items"]!.AsArray().Concat(second["items"]!.AsArray()).Select(i => (string?)i!["content"]);
        Assert.Equal(["memory number 4", "memory number 3", "memory number 2", "memory number 1", "memory number 0"], contents);
        Assert.Null(second["continuationToken"]);
        Assert.All(await Archive(user), i => Assert.Equal(0, (int)i!["accessCount"]!));
    }

    [Theory]
    [InlineData("memory/archive?query=")]
    [InlineData("memory/archive?query=x&top=0")]
    [InlineData("memory/archive?query=x&top=21")]
    [InlineData("memory/archive?limit=1000")]
    [InlineData("memory/archive?continuationToken=not-a-token")]
    [InlineData("messages?limit=-1")]
    [InlineData("messages?sessionId=bad%20session")]
    public async Task Bad_query_parameters_are_a_400(string path) =>
        await Problem(await _http.GetAsync($"/api/users/{NewUser()}/{path}"), 400);

    [Theory]
    [InlineData("bad%20user")]
    [InlineData("user%2Fslash")]
    [InlineData("%E5%B0%8F%E6%98%8E")]
    public async Task A_bad_user_id_is_a_400(string user) =>
        await Problem(await _http.GetAsync($"/api/users/{user}/memory/core"), 400);

    [Fact]
    public async Task A_129_character_user_id_is_a_400() =>
        await Problem(await _http.GetAsync($"/api/users/{new string('a', 129)}/memory/core"), 400);

    [Fact]
    public async Task Users_are_isolated()
    {
        var (alice, bob) = (NewUser(), NewUser());
        var secret = await AddMemory(alice, "alice's secret project codename is Falcon");
        await Ok(await _http.PutAsync($"/api/users/{alice}/memory/core/human", Json("""{"value":"Alice"}""")));

        await Problem(await _http.GetAsync($"/api/users/{bob}/memory/archive/{secret["id"]}"), 404);
        await Problem(await _http.DeleteAsync($"/api/users/{bob}/memory/archive/{secret["id"]}"), 404);
        Assert.Empty((await Ok(await _http.GetAsync($"/api/users/{bob}/memory/archive?query=Falcon")))["items"]!.AsArray());
        var tool = await Ok(await _http.PostAsync($"/api/users/{bob}/tools/search_archive", Json("""{"query":"secret project Falcon"}""")));
        Assert.Empty(tool["result"]!["results"]!.AsArray());
        var core = await Ok(await _http.GetAsync($"/api/users/{bob}/memory/core"));
        Assert.Equal("", (string?)core["blocks"]!.AsArray().Single(b => (string?)b!["label"] == "human")!["value"]);
    }

    [Fact]
    public async Task Erasing_a_user_removes_everything_of_theirs_only()
    {
        var (user, other) = (NewUser(), NewUser());
        foreach (var u in new[] { user, other })
        {
            await AddMemory(u, "likes hiking");
            await Ok(await _http.PutAsync($"/api/users/{u}/memory/core/human", Json("""{"value":"someone"}""")));
        }

        Assert.Equal(HttpStatusCode.NoContent, (await _http.DeleteAsync($"/api/users/{user}")).StatusCode);

        Assert.Empty(await Archive(user));
        var core = await Ok(await _http.GetAsync($"/api/users/{user}/memory/core"));
        var fresh = await Ok(await _http.GetAsync($"/api/users/{NewUser()}/memory/core"));
        Assert.Equal(fresh.ToJsonString(), core.ToJsonString());
        Assert.Single(await Archive(other));
    }

    [Fact]
    public async Task Messages_of_a_new_user_are_an_empty_page() =>
        Assert.Empty((await Ok(await _http.GetAsync($"/api/users/{NewUser()}/messages?sessionId=default&limit=10")))["items"]!.AsArray());

    [Fact]
    public async Task Unknown_routes_are_404() =>
        Assert.Equal(HttpStatusCode.NotFound, (await _http.GetAsync("/api/nothing-here")).StatusCode);
}

/// <summary>The API against the self-host (Kestrel, in process).</summary>
public sealed class SelfHostApiTests(ServiceFactory service) : MemoryApiTests(service.Client()), IClassFixture<ServiceFactory>;

/// <summary>The API against the built Functions app, a worker process driven over the Functions host's protocol.</summary>
public sealed class FunctionsHostApiTests(FunctionsAppFixture app) : MemoryApiTests(app.Client()), IClassFixture<FunctionsAppFixture>;
