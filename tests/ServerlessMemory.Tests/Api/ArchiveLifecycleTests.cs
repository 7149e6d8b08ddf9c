using System.Net;
using System.Text.Json.Nodes;
using static ServerlessMemory.Tests.Api.HttpAssert;

namespace ServerlessMemory.Tests.Api;

/// <summary>An archive memory from its first POST to being forgotten, and what the same content means after.</summary>
public sealed class ArchiveLifecycleTests : IDisposable
{
    private readonly ServiceFactory _service = new();
    private readonly HttpClient _http;

    public ArchiveLifecycleTests() => _http = _service.Client();

    public void Dispose() => _service.Dispose();

    private Task<HttpResponseMessage> Post(string user, string content, string type, double importance, string? tag = null) =>
        _http.PostAsync($"/api/users/{user}/memory/archive", Json(new JsonObject
        {
            ["content"] = content, ["type"] = type, ["importance"] = importance,
            ["metadata"] = tag is null ? null : new JsonObject { ["request"] = tag },
        }.ToJsonString()));

    private async Task<JsonArray> List(string user) =>
        (await Ok(await _http.GetAsync($"/api/users/{user}/memory/archive?limit=100")))["items"]!.AsArray();

    private async Task<JsonObject> Sweep() => await Ok(await _http.PostAsync("/api/admin/decay", null));

    [Fact]
    public async Task Identical_concurrent_posts_answer_201_once_and_200_with_the_item_as_stored()
    {
        const string user = "racer";
        var responses = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => Post(user, "likes Python", "fact", 0.1 + (i % 9) / 10.0, $"r{i}")));
        var bodies = await Task.WhenAll(responses.Select(async r => ((int)r.StatusCode, JsonNode.Parse(await r.Content.ReadAsStringAsync())!.AsObject())));

        // (An importance of 0 would be forgotten on arrival, and the next POST would store it anew.)
        var created = Assert.Single(bodies, b => b.Item1 == 201).Item2;
        Assert.All(bodies, b => Assert.Contains(b.Item1, new[] { 200, 201 }));
        var stored = Assert.Single(await List(user))!;
        Assert.Equal(created.ToJsonString(), stored.ToJsonString());
        // Every 200 describes the item as stored, not the importance or metadata its own request sent.
        Assert.All(bodies.Where(b => b.Item1 == 200), b =>
        {
            Assert.Equal((double)stored["importance"]!, (double)b.Item2["importance"]!);
            Assert.Equal((string?)stored["metadata"]!["request"], (string?)b.Item2["metadata"]!["request"]);
        });
    }

    [Fact]
    public async Task A_memory_past_its_forget_at_is_absent_from_list_and_search_and_404_by_id_before_the_sweep()
    {
        const string user = "fading";
        var id = (string)(await Ok(await Post(user, "had a coffee this morning", "trivial", 0.1), 201))["id"]!;
        await Ok(await Post(user, "my name is Xiaoming", "identity", 1.0), 201);

        _service.Time.Advance(TimeSpan.FromHours(24));

        Assert.Equal(["my name is Xiaoming"], (await List(user)).Select(i => (string?)i!["content"]));
        Assert.Empty((await Ok(await _http.GetAsync($"/api/users/{user}/memory/archive?query=coffee")))["items"]!.AsArray());
        await Problem(await _http.GetAsync($"/api/users/{user}/memory/archive/{id}"), 404);
        await Problem(await _http.DeleteAsync($"/api/users/{user}/memory/archive/{id}"), 404);
        Assert.Empty((await Ok(await _http.PostAsync($"/api/users/{user}/tools/search_archive", Json("""{"query":"coffee"}"""))))["result"]!["results"]!.AsArray());
    }

    [Fact]
    public async Task Posting_a_forgotten_memory_again_stores_it_anew_and_the_next_sweep_keeps_it()
    {
        const string user = "again";
        var first = await Ok(await Post(user, "had a coffee this morning", "trivial", 0.1), 201);
        _service.Time.Advance(TimeSpan.FromHours(24));

        var response = await Post(user, "Had a coffee  this morning", "identity", 1.0, "second");
        var again = await Ok(response, 201);
        var swept = await Sweep();

        Assert.Equal((string?)first["id"], (string?)again["id"]);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal("identity", (string?)again["type"]);
        Assert.Null(again["forgetAt"]);
        Assert.Equal(0, (int)swept["forgotten"]!);
        var kept = Assert.Single(await List(user))!;
        Assert.Equal(("Had a coffee  this morning", "identity", 1.0, "second"),
            ((string?)kept["content"], (string?)kept["type"], (double)kept["importance"]!, (string?)kept["metadata"]!["request"]));
        Assert.Single((await Ok(await _http.GetAsync($"/api/users/{user}/memory/archive?query=coffee")))["items"]!.AsArray());
        _service.Time.Advance(TimeSpan.FromDays(365));
        await Sweep();
        Assert.Single(await List(user));
    }

    [Fact]
    public async Task Concurrent_posts_of_a_forgotten_memory_store_it_anew_once()
    {
        const string user = "renewers";
        await Ok(await Post(user, "had a coffee this morning", "trivial", 0.1), 201);
        _service.Time.Advance(TimeSpan.FromHours(24));

        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => Post(user, "had a coffee this morning", "fact", 0.5, $"r{i}")));

        Assert.Single(responses, r => r.StatusCode == HttpStatusCode.Created);
        Assert.All(responses, r => Assert.True(r.StatusCode is HttpStatusCode.Created or HttpStatusCode.OK, $"{r.StatusCode}"));
        Assert.Equal("fact", (string?)Assert.Single(await List(user))!["type"]);
    }
}
