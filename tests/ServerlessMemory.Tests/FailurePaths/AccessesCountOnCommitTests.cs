using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ServerlessMemory.Core;
using ServerlessMemory.Tests.Api;
using ServerlessMemory.Tests.Scripted;
using static ServerlessMemory.Tests.Api.HttpAssert;
using static ServerlessMemory.Tests.Chat.ChatRequests;

namespace ServerlessMemory.Tests.FailurePaths;

/// <summary>
/// A search's accesses count only when the request that made it commits, and only for what it gave:
/// with the batching recorder on (the default), as without it.
/// </summary>
public sealed class AccessesCountOnCommitTests : IAsyncLifetime
{
    private ScriptedModelServer _model = null!;

    public async Task InitializeAsync() => _model = await ScriptedModelServer.StartAsync();

    public async Task DisposeAsync() => await _model.DisposeAsync();

    /// <summary>The self-host with the access recorder on; it writes only when a test flushes it.</summary>
    private ServiceFactory Recording()
    {
        var service = Service(_model);
        service.Settings["Memory:Accesses:FlushInterval"] = "01:00:00";
        service.Settings["Model:MaxRetries"] = "0";
        return service;
    }

    private static Task<int> Flush(ServiceFactory service) =>
        service.Services.GetRequiredService<MemoryEngine>().Accesses!.FlushAsync();

    private static async Task<JsonObject> Add(HttpClient http, string user, string content, double importance = 0.6) =>
        await Ok(await http.PostAsync($"/api/users/{user}/memory/archive",
            Json(new JsonObject { ["content"] = content, ["importance"] = importance }.ToJsonString())), 201);

    private static async Task<JsonObject> Item(HttpClient http, string user, string id) =>
        await Ok(await http.GetAsync($"/api/users/{user}/memory/archive/{id}"));

    private static Task<HttpResponseMessage> Chat(HttpClient http, string user, string message) =>
        http.PostAsync($"/api/users/{user}/chat", Json(new JsonObject { ["message"] = message }.ToJsonString()));

    [Theory]
    [InlineData(502)] // the model answers an empty reply
    [InlineData(503)] // the model is unavailable
    public async Task A_chat_turn_that_fails_after_recalling_counts_no_access(int status)
    {
        _model.Chat = request => IsExtraction(request) ? new(NoExtraction) : status == 502 ? new("") : new(Status: 503, RetryAfter: "120");
        using var service = Recording();
        var http = service.Client();
        var added = await Add(http, "failed", "the falcon project ships in May");
        var id = (string)added["id"]!;
        service.Time.Advance(TimeSpan.FromHours(2));

        await Problem(await Chat(http, "failed", "when does the falcon project ship?"), status);
        await Flush(service);

        var after = await Item(http, "failed", id);
        Assert.Equal(0, (int)after["accessCount"]!);
        Assert.Equal((string?)added["lastAccessedAt"], (string?)after["lastAccessedAt"]);
        Assert.Equal((string?)added["forgetAt"], (string?)after["forgetAt"]);
        Assert.Empty(service.Logs.AtLeast(LogLevel.Error));

        // The same turn answered counts its recall once.
        _model.Chat = request => IsExtraction(request) ? new(NoExtraction) : new("In May.");
        await Ok(await Chat(http, "failed", "when does the falcon project ship?"));
        await Flush(service);
        Assert.Equal(1, (int)(await Item(http, "failed", id))["accessCount"]!);
    }

    [Fact]
    public async Task A_context_request_refused_with_400_counts_no_access()
    {
        using var service = Recording();
        var http = service.Client();
        var id = (string)(await Add(http, "refused", "the falcon project ships in May"))["id"]!;

        await Problem(await http.PostAsync("/api/users/refused/context",
            Json("""{"message":"when does the falcon project ship?","tokens":1}""")), 400);
        await Flush(service);

        Assert.Equal(0, (int)(await Item(http, "refused", id))["accessCount"]!);
    }

    [Fact]
    public async Task A_token_budgeted_context_counts_only_the_memories_it_gave()
    {
        using var service = Recording();
        var http = service.Client();
        foreach (var (content, importance) in new[]
                 {
                     ("the falcon project ships in May with the new falcon engine", 0.9), ("the falcon project data comes from the CRM", 0.5),
                     ("the falcon project deadline is the end of March", 0.3), ("the falcon team likes oolong tea", 0.2),
                 })
            await Add(http, "budget", content, importance);
        const string message = "what about the falcon project deadline and data?";
        var all = await Ok(await http.PostAsync("/api/users/budget/context", Json(new JsonObject { ["message"] = message }.ToJsonString())));
        Assert.True(all["recalled"]!.AsArray().Count >= 3);
        await Flush(service);
        var before = (await Ok(await http.GetAsync("/api/users/budget/memory/archive?limit=20")))["items"]!.AsArray()
            .ToDictionary(i => (string)i!["id"]!, i => (int)i!["accessCount"]!);

        var fitted = await Ok(await http.PostAsync("/api/users/budget/context",
            Json(new JsonObject { ["message"] = message, ["tokens"] = (int)all["tokens"]! - 5 }.ToJsonString())));
        await Flush(service);

        var given = fitted["recalled"]!.AsArray().Select(r => (string)r!["id"]!).ToHashSet();
        Assert.True(given.Count < all["recalled"]!.AsArray().Count);
        var after = (await Ok(await http.GetAsync("/api/users/budget/memory/archive?limit=20")))["items"]!.AsArray();
        Assert.All(after, i => Assert.Equal(before[(string)i!["id"]!] + (given.Contains((string)i["id"]!) ? 1 : 0), (int)i["accessCount"]!));
    }
}
