using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ServerlessMemory.Tests.Api;
using ServerlessMemory.Tests.Scripted;
using static ServerlessMemory.Tests.Api.HttpAssert;
using static ServerlessMemory.Tests.Chat.ChatRequests;

namespace ServerlessMemory.Tests.Chat;

/// <summary>Contradictions resolved, history kept: the user moves city, and only that answer changes.</summary>
public sealed partial class SupersessionTests : IAsyncLifetime
{
    private ScriptedModelServer _model = null!;

    public async Task InitializeAsync()
    {
        _model = await ScriptedModelServer.StartAsync();
        // A tiny semantic space: words about where one lives share a direction, as a real embedding model would have them.
        _model.Embed = text =>
        {
            var v = ScriptedModelServer.HashedTerms(text);
            if (new[] { "Beijing", "Shanghai", "live", "moved", "北京", "上海", "住", "搬" }.Any(w => text.Contains(w, StringComparison.OrdinalIgnoreCase))) v[0] += 50;
            return v;
        };
    }

    public async Task DisposeAsync() => await _model.DisposeAsync();

    private ServiceFactory Service()
    {
        var service = ChatRequests.Service(_model);
        service.Settings["Model:EmbeddingModel"] = "text-embedding-3-small";
        service.Settings["Model:EmbeddingDimensions"] = "64";
        return service;
    }

    private static async Task<JsonObject> Chat(HttpClient http, string user, string message) =>
        await Ok(await http.PostAsync($"/api/users/{user}/chat", Json(new JsonObject { ["message"] = message }.ToJsonString())));

    private static async Task<JsonArray> Search(HttpClient http, string user, string query, bool history = false) =>
        (await Ok(await http.GetAsync($"/api/users/{user}/memory/archive?query={Uri.EscapeDataString(query)}&top=20{(history ? "&history=true" : "")}")))["items"]!.AsArray();

    /// <summary>The ids of the archive memories an extraction request lists, with their content.</summary>
    private static List<(string Id, string Content)> Listed(JsonObject request) =>
        [.. ListedMemory().Matches(LastUser(request)).Select(m => (m.Groups[1].Value, m.Groups[2].Value))];

    [GeneratedRegex(@"^- \[([0-9a-f]+)\] \([^)]*\) (.*)$", RegexOptions.Multiline)]
    private static partial Regex ListedMemory();

    private static JsonObject Extracted(string? line = null, string? replaces = null, string? content = null, string subject = "", params string[] supersedes) => new()
    {
        ["core"] = line is null ? new JsonArray() : new JsonArray(new JsonObject { ["label"] = "human", ["line"] = line, ["replaces"] = replaces }),
        ["remove"] = new JsonArray(),
        ["archive"] = content is null ? new JsonArray() : new JsonArray(new JsonObject
        {
            ["content"] = content, ["type"] = "fact", ["importance"] = 0.8, ["subject"] = subject,
            ["supersedes"] = new JsonArray([.. supersedes.Select(s => (JsonNode)s)]),
        }),
    };

    public static TheoryData<string, string, string, string, string, string, string, string> Moves => new()
    {
        { "I live in Beijing", "I moved to Shanghai", "Lives in Beijing", "Lives in Shanghai", "The user lives in Beijing", "The user lives in Shanghai", "Beijing", "Shanghai" },
        { "我住在北京", "我搬到上海了", "住在北京", "住在上海", "用户住在北京", "用户住在上海", "北京", "上海" },
    };

    [Theory]
    [MemberData(nameof(Moves))]
    public async Task Moving_city_leaves_one_current_answer_and_the_old_one_as_history(
        string first, string second, string oldLine, string newLine, string oldMemory, string newMemory, string oldCity, string newCity)
    {
        _model.Chat = request =>
        {
            var said = Said(request);
            if (IsExtraction(request))
            {
                if (said == first) return new(Extracted(oldLine, null, oldMemory, "home city").ToJsonString());
                if (said == second)
                {
                    var old = Listed(request).Where(l => l.Content.Contains(oldCity, StringComparison.Ordinal)).Select(l => l.Id).ToArray();
                    return new(Extracted(newLine, oldLine, newMemory, "home city", old).ToJsonString());
                }
                return new(NoExtraction);
            }
            var system = SystemText(request);
            return new(system.Contains(newCity, StringComparison.Ordinal) && !system.Contains(oldCity, StringComparison.Ordinal) ? newCity
                : system.Contains(oldCity, StringComparison.Ordinal) && system.Contains(newCity, StringComparison.Ordinal) ? "two answers" : "?");
        };
        using var service = Service();
        var http = service.Client();

        await Chat(http, "mover", first);
        service.Time.Advance(TimeSpan.FromDays(1)); // not so long that the old fact would be forgotten by decay
        var moved = await Chat(http, "mover", second);
        var asked = await Chat(http, "mover", "?");

        // One current answer: core memory, recall and default search all say the new city only.
        Assert.Equal(newCity, (string?)asked["reply"]);
        var human = (string)(await Ok(await http.GetAsync("/api/users/mover/memory/core")))["blocks"]!.AsArray().Single(b => (string?)b!["label"] == "human")!["value"]!;
        Assert.Equal(newLine, human);
        var current = await Search(http, "mover", oldCity);
        Assert.All(current, i => Assert.DoesNotContain(oldCity, (string)i!["content"]!));
        Assert.Contains(current, i => (string?)i!["content"] == newMemory);
        Assert.Contains(moved["memoryUpdates"]!.AsArray(), u => (string?)u!["action"] == "supersede");

        // The old answer as history: kept, found when history is asked for, with when it stopped and what replaced it.
        var history = await Search(http, "mover", oldCity, history: true);
        var oldItem = history.Single(i => (string?)i!["content"] == oldMemory)!;
        var newItem = history.Single(i => (string?)i!["content"] == newMemory)!;
        Assert.Equal(service.Time.GetUtcNow(), (DateTimeOffset)oldItem["supersededAt"]!);
        Assert.Equal((string?)newItem["id"], (string?)oldItem["supersededBy"]);
        Assert.Null(newItem["supersededAt"]);
        var oldCore = history.Single(i => (string?)i!["content"] == oldLine)!;
        Assert.Equal(newLine, (string?)(await Ok(await http.GetAsync($"/api/users/mover/memory/archive/{(string?)oldCore["supersededBy"]}")))["content"]);
        Assert.Equal(service.Time.GetUtcNow().AddDays(-1), (DateTimeOffset)oldCore["createdAt"]!);
        var byId = await Ok(await http.GetAsync($"/api/users/mover/memory/archive/{(string?)oldItem["id"]}"));
        Assert.Equal(oldMemory, (string?)byId["content"]);
    }

    [Fact]
    public async Task Unrelated_facts_never_retire_each_other()
    {
        string? unrelatedId = null;
        _model.Chat = request =>
        {
            var said = Said(request);
            if (!IsExtraction(request)) return new("ok");
            if (said == "I live in Beijing") return new(Extracted(null, null, "The user lives in Beijing", "home city").ToJsonString());
            if (said.StartsWith("My cat", StringComparison.Ordinal))
            {
                // Proposes to retire what it was shown on another subject, and an id it was never shown.
                var shown = Listed(request).Select(l => l.Id).ToArray();
                return new(Extracted(null, null, "The user's cat is called Mimi", "pet", [.. shown, unrelatedId!]).ToJsonString());
            }
            return new(NoExtraction);
        };
        using var service = Service();
        var http = service.Client();
        unrelatedId = (string)(await Ok(await http.PostAsync("/api/users/cat/memory/archive", Json("""{"content":"works at Contoso","type":"fact"}""")), 201))["id"]!;

        await Chat(http, "cat", "I live in Beijing");
        var turn = await Chat(http, "cat", "My cat Mimi lives in Beijing with me");

        Assert.DoesNotContain(turn["memoryUpdates"]!.AsArray(), u => (string?)u!["action"] == "supersede");
        Assert.Contains(await Search(http, "cat", "Beijing"), i => (string?)i!["content"] == "The user lives in Beijing");
        Assert.Contains(await Search(http, "cat", "Contoso"), i => (string?)i!["content"] == "works at Contoso");
        Assert.Contains(await Search(http, "cat", "Mimi"), i => (string?)i!["content"] == "The user's cat is called Mimi");
    }
}
