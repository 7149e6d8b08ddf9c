using System.Diagnostics;
using System.Text.Json.Nodes;
using ServerlessMemory.Tests.Scripted;
using Xunit.Abstractions;
using static ServerlessMemory.Tests.Api.HttpAssert;

namespace ServerlessMemory.Tests.Api;

/// <summary>Memory with its embedding model down: degraded (lexical, stored without vectors), never down.</summary>
public sealed class DegradedModeTests(ITestOutputHelper output) : IAsyncLifetime
{
    private ScriptedModelServer _model = null!;

    public async Task InitializeAsync() => _model = await ScriptedModelServer.StartAsync();

    public async Task DisposeAsync() => await _model.DisposeAsync();

    private ServiceFactory Service()
    {
        var service = Chat.ChatRequests.Service(_model, embeddings: true);
        return service;
    }

    public static TheoryData<string, int, string?, int> Outages => new()
    {
        { "500", 500, null, 0 },
        { "429 with Retry-After 60", 429, "60", 0 },
        { "a stalled service", 200, null, 120 },
    };

    [Theory]
    [MemberData(nameof(Outages))]
    public async Task With_embeddings_down_add_and_search_answer_within_10_s_lexically_and_say_so(string outage, int status, string? retryAfter, int stallSeconds)
    {
        _model.EmbeddingFault = new(Status: status, RetryAfter: retryAfter, Delay: TimeSpan.FromSeconds(stallSeconds));
        using var service = Service();
        var http = service.Client();

        var clock = Stopwatch.StartNew();
        var added = await Ok(await http.PostAsync("/api/users/u/memory/archive", Json("""{"content":"当前项目是客户流失预测"}""")), 201);
        var addTook = clock.Elapsed;
        clock.Restart();
        var found = await Ok(await http.GetAsync("/api/users/u/memory/archive?query=项目"));
        var searchTook = clock.Elapsed;
        clock.Restart();
        var tool = await Ok(await http.PostAsync("/api/users/u/tools/archive_content", Json("""{"content":"uses XGBoost"}""")));
        var toolTook = clock.Elapsed;
        output.WriteLine($"{outage}: add {addTook.TotalSeconds:F2} s, search {searchTook.TotalSeconds:F2} s, archive_content {toolTook.TotalSeconds:F2} s");

        Assert.True(addTook < TimeSpan.FromSeconds(10), $"add took {addTook}");
        Assert.True(searchTook < TimeSpan.FromSeconds(10), $"search took {searchTook}");
        Assert.True(toolTook < TimeSpan.FromSeconds(10), $"archive_content took {toolTook}");
        Assert.Equal((string?)added["id"], (string?)Assert.Single(found["items"]!.AsArray())!["id"]);
        Assert.Equal("lexical", (string?)found["mode"]);
        Assert.Contains("embedding", (string?)found["warning"]);
        Assert.True((bool)tool["result"]!["stored"]!);
    }

    [Fact]
    public async Task When_embeddings_come_back_search_is_by_meaning_again()
    {
        _model.EmbeddingFault = new(Status: 500);
        using var service = Service();
        service.Settings["Memory:Search:EmbeddingPause"] = "00:00:00";
        var http = service.Client();
        await Ok(await http.PostAsync("/api/users/u/memory/archive", Json("""{"content":"works on churn prediction"}""")), 201);

        _model.EmbeddingFault = null;
        var found = await Ok(await http.GetAsync("/api/users/u/memory/archive?query=churn"));

        Assert.Null(found["mode"]);
        Assert.Single(found["items"]!.AsArray());
    }
}
