using System.Text.Json.Nodes;
using ServerlessMemory.Tests.Api;
using static ServerlessMemory.Tests.Api.HttpAssert;

namespace ServerlessMemory.Tests.FailurePaths;

/// <summary>Identical archive_content calls at once store one memory and say so once, as POST memory/archive answers one 201.</summary>
public sealed class ConcurrentArchiveToolTests
{
    private const int Calls = 50;

    [Fact]
    public async Task Fifty_identical_concurrent_archive_content_calls_report_exactly_one_stored_memory()
    {
        using var service = new ServiceFactory();
        var http = service.Client();

        var results = await Task.WhenAll(Enumerable.Range(0, Calls).Select(async _ =>
            (await Ok(await http.PostAsync("/api/users/racer/tools/archive_content", Json("""{"content":"the falcon project ships in May"}"""))))["result"]!));

        await AssertOneStored(http, "racer", results);
    }

    [Fact]
    public async Task Fifty_identical_concurrent_mcp_archive_content_calls_report_exactly_one_stored_memory()
    {
        using var service = new ServiceFactory();
        var http = service.Client();

        var results = await Task.WhenAll(Enumerable.Range(0, Calls).Select(async _ =>
            (JsonNode)await Mcp.Call(http, "mcp-racer", "archive_content", new JsonObject { ["content"] = "the falcon project ships in May" })));

        await AssertOneStored(http, "mcp-racer", results);
    }

    private static async Task AssertOneStored(HttpClient http, string user, JsonNode[] results)
    {
        var stored = Assert.Single((await Ok(await http.GetAsync($"/api/users/{user}/memory/archive")))["items"]!.AsArray())!;
        Assert.All(results, r => Assert.Equal((string?)stored["id"], (string?)r["id"]));
        Assert.Equal(1, results.Count(r => (bool)r["stored"]! && !(bool)r["duplicate"]!));
        Assert.Equal(Calls - 1, results.Count(r => !(bool)r["stored"]! && (bool)r["duplicate"]!));
    }
}
