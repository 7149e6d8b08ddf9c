using System.Text.Json.Nodes;
using static ServerlessMemory.Tests.Api.HttpAssert;

namespace ServerlessMemory.Tests.Api;

/// <summary>
/// A memory's two times: <c>createdAt</c>, when it happened or was said (kept and shown), and
/// <c>enteredAt</c>, when it entered memory, which is the clock decay runs on. A memory dated a year
/// back enters memory now and lives as long as one said today.
/// </summary>
public sealed class MemoryTimeTests : IDisposable
{
    private readonly ServiceFactory _service = new();
    private readonly HttpClient _http;

    public MemoryTimeTests() => _http = _service.Client();

    public void Dispose() => _service.Dispose();

    private const string Miso = """{"content":"I adopted a cat named Miso","type":"fact","importance":0.6,"createdAt":"2025-06-01T10:00:00Z"}""";

    private async Task<JsonArray> List(string user) =>
        (await Ok(await _http.GetAsync($"/api/users/{user}/memory/archive?limit=100")))["items"]!.AsArray();

    private async Task<JsonArray> Search(string user, string query) =>
        (await Ok(await _http.GetAsync($"/api/users/{user}/memory/archive?query={Uri.EscapeDataString(query)}")))["items"]!.AsArray();

    [Fact]
    public async Task A_backdated_memory_enters_memory_now_and_is_found_by_list_search_and_id()
    {
        var now = _service.Time.GetUtcNow();

        var added = await Ok(await _http.PostAsync("/api/users/imp/memory/archive", Json(Miso)), 201);

        Assert.Equal("2025-06-01T10:00:00.000Z", (string?)added["createdAt"]);
        Assert.Equal(now, DateTimeOffset.Parse((string)added["enteredAt"]!));
        Assert.True(DateTimeOffset.Parse((string)added["forgetAt"]!) > now.AddDays(3), $"forgetAt {added["forgetAt"]}");
        Assert.Equal(added.ToJsonString(), (await Ok(await _http.GetAsync($"/api/users/imp/memory/archive/{added["id"]}"))).ToJsonString());
        Assert.Equal([(string?)added["id"]], (await List("imp")).Select(i => (string?)i!["id"]));
        var found = Assert.Single(await Search("imp", "cat Miso"))!;
        Assert.Equal("2025-06-01T10:00:00.000Z", (string?)found["createdAt"]);
    }

    [Fact]
    public async Task A_backdated_fact_fades_from_when_it_entered_memory_as_one_said_today()
    {
        var old = await Ok(await _http.PostAsync("/api/users/year/memory/archive", Json(Miso)), 201);
        var today = await Ok(await _http.PostAsync("/api/users/year/memory/archive",
            Json("""{"content":"I adopted a dog named Bao","type":"fact","importance":0.6}""")), 201);

        Assert.Equal((string?)today["forgetAt"], (string?)old["forgetAt"]);
        _service.Time.Advance(TimeSpan.FromDays(3));
        Assert.Equal(2, (await List("year")).Count);
        _service.Time.Advance(TimeSpan.FromDays(1));
        Assert.Empty(await List("year"));
    }

    [Fact]
    public async Task Every_answer_that_acknowledges_a_memory_is_one_a_read_can_see()
    {
        // A trivial memory of importance 0 is below the forgetting threshold the moment it is written.
        var response = await _http.PostAsync("/api/users/faint/memory/archive",
            Json("""{"content":"it rained a little","type":"trivial","importance":0}"""));

        var problem = await Problem(response, 400);

        Assert.Contains("importance", problem.ToJsonString(), StringComparison.Ordinal);
        Assert.Empty(await List("faint"));
    }
}
