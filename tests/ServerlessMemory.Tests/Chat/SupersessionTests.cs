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
        var service = ChatRequests.Service(_model, embeddings: true);
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

    /// <summary>The issue's turns: Beijing, Shanghai, Beijing again; the extractor supersedes what it is shown of the other city.</summary>
    private void MovesBackAndForth() => _model.Chat = request =>
    {
        var said = Said(request);
        if (!IsExtraction(request)) return new("ok");
        JsonObject Move(string line, string? replaces, string memory, string from) => Extracted(line, replaces, memory, "home city",
            [.. Listed(request).Where(l => l.Content.Contains(from, StringComparison.Ordinal)).Select(l => l.Id)]);
        return said switch
        {
            "I live in Beijing" => new(Extracted("Lives in Beijing", null, "The user lives in Beijing", "home city").ToJsonString()),
            "I moved to Shanghai" => new(Move("Lives in Shanghai", "Lives in Beijing", "The user lives in Shanghai", "Beijing").ToJsonString()),
            "I moved back to Beijing" => new(Move("Lives in Beijing", "Lives in Shanghai", "The user lives in Beijing", "Shanghai").ToJsonString()),
            _ => new(NoExtraction),
        };
    };

    [Fact]
    public async Task Moving_back_makes_the_first_city_current_again_in_core_and_in_the_archive_with_each_period_kept()
    {
        MovesBackAndForth();
        using var service = Service();
        var http = service.Client();
        var t0 = service.Time.GetUtcNow();

        await Chat(http, "back", "I live in Beijing");
        service.Time.Advance(TimeSpan.FromDays(1));
        await Chat(http, "back", "I moved to Shanghai");
        service.Time.Advance(TimeSpan.FromDays(1));
        var back = await Chat(http, "back", "I moved back to Beijing");
        var (t1, t2) = (t0.AddDays(1), t0.AddDays(2));

        var human = (string)(await Ok(await http.GetAsync("/api/users/back/memory/core")))["blocks"]!.AsArray().Single(b => (string?)b!["label"] == "human")!["value"]!;
        Assert.Equal("Lives in Beijing", human);
        Assert.Contains(back["memoryUpdates"]!.AsArray(), u => (string?)u!["action"] == "restate");
        // A default search for where the user lives finds the current answer, and only it.
        var current = await Search(http, "back", "where does the user live");
        Assert.Equal(["Lives in Beijing", "The user lives in Beijing"], current.Select(i => (string)i!["content"]!).Order(StringComparer.Ordinal));
        var history = await Search(http, "back", "where does the user live", history: true);
        foreach (var (city, other) in new[] { ("The user lives in Beijing", "The user lives in Shanghai"), ("Lives in Beijing", "Lives in Shanghai") })
        {
            var beijing = history.Single(i => (string?)i!["content"] == city)!;
            var shanghai = history.Single(i => (string?)i!["content"] == other)!;
            Assert.Null(beijing["supersededAt"]);
            Assert.Equal((t2, t2), ((DateTimeOffset)beijing["createdAt"]!, (DateTimeOffset)beijing["enteredAt"]!));
            Assert.Equal(Interval(t0, t1, (string)shanghai["id"]!), beijing["history"]!.ToJsonString());
            Assert.Equal((t2, (string?)beijing["id"]), ((DateTimeOffset)shanghai["supersededAt"]!, (string?)shanghai["supersededBy"]));
            Assert.Equal(Interval(t1, t2, (string)beijing["id"]!), shanghai["history"]!.ToJsonString());
        }
    }

    private static string Interval(DateTimeOffset from, DateTimeOffset to, string by) =>
        new JsonArray(new JsonObject { ["from"] = Core.UtcTime.ToText(from), ["to"] = Core.UtcTime.ToText(to), ["supersededBy"] = by }).ToJsonString();

    [Fact]
    public async Task A_restatement_posted_to_the_archive_is_current_again_and_retires_what_replaced_it()
    {
        MovesBackAndForth();
        using var service = Service();
        var http = service.Client();
        var t0 = service.Time.GetUtcNow();
        await Chat(http, "poster", "I live in Beijing");
        service.Time.Advance(TimeSpan.FromDays(1));
        await Chat(http, "poster", "I moved to Shanghai");
        service.Time.Advance(TimeSpan.FromDays(1));

        var posted = await Ok(await http.PostAsync("/api/users/poster/memory/archive", Json("""{"content":"The user lives in Beijing"}""")));

        Assert.Null(posted["supersededAt"]);
        Assert.Equal((service.Time.GetUtcNow(), service.Time.GetUtcNow()), ((DateTimeOffset)posted["createdAt"]!, (DateTimeOffset)posted["enteredAt"]!));
        var shanghai = (await Search(http, "poster", "Shanghai", history: true)).Single(i => (string?)i!["content"] == "The user lives in Shanghai")!;
        Assert.Equal(Interval(t0, t0.AddDays(1), (string)shanghai["id"]!), posted["history"]!.ToJsonString());
        Assert.Equal((string?)posted["id"], (string?)shanghai["supersededBy"]);
        Assert.Contains(await Search(http, "poster", "where does the user live"), i => (string?)i!["content"] == "The user lives in Beijing");
        Assert.DoesNotContain(await Search(http, "poster", "where does the user live"), i => (string?)i!["content"] == "The user lives in Shanghai");
    }

    [Fact]
    public async Task Beijing_Shanghai_Beijing_posted_with_supersedes_leaves_Beijing_current_with_its_history()
    {
        using var service = Service();
        var http = service.Client();
        var t0 = service.Time.GetUtcNow();
        var beijing = await Ok(await http.PostAsync("/api/users/posts/memory/archive", Json("""{"content":"The user lives in Beijing","metadata":{"subject":"home city"}}""")), 201);
        service.Time.Advance(TimeSpan.FromDays(1));
        var shanghai = await Ok(await http.PostAsync("/api/users/posts/memory/archive",
            Json(new JsonObject { ["content"] = "The user lives in Shanghai", ["supersedes"] = new JsonArray((string)beijing["id"]!) }.ToJsonString())), 201);
        service.Time.Advance(TimeSpan.FromDays(1));

        // Said again, naming what it replaces: 200 (the same memory), current again.
        var back = await Ok(await http.PostAsync("/api/users/posts/memory/archive",
            Json(new JsonObject { ["content"] = "The user lives in Beijing", ["supersedes"] = new JsonArray((string)shanghai["id"]!) }.ToJsonString())), 200);

        var t2 = t0.AddDays(2);
        Assert.Equal(((string?)beijing["id"], null, t2, t2), ((string?)back["id"], back["supersededAt"], (DateTimeOffset)back["createdAt"]!, (DateTimeOffset)back["enteredAt"]!));
        Assert.Equal(Interval(t0, t0.AddDays(1), (string)shanghai["id"]!), back["history"]!.ToJsonString());
        var found = Assert.Single(await Search(http, "posts", "where does the user live"))!;
        Assert.Equal(((string?)beijing["id"], back["history"]!.ToJsonString()), ((string?)found["id"], found["history"]!.ToJsonString()));
        var retired = await Ok(await http.GetAsync($"/api/users/posts/memory/archive/{shanghai["id"]}"));
        Assert.Equal((t2, (string?)beijing["id"]), ((DateTimeOffset)retired["supersededAt"]!, (string?)retired["supersededBy"]));
        Assert.Equal(Interval(t0.AddDays(1), t2, (string)beijing["id"]!), retired["history"]!.ToJsonString());
    }

    [Fact]
    public async Task Supersedes_that_names_no_current_memory_is_a_400_and_stores_nothing()
    {
        using var service = Service();
        var http = service.Client();
        var beijing = await Ok(await http.PostAsync("/api/users/bad/memory/archive", Json("""{"content":"The user lives in Beijing"}""")), 201);
        var shanghai = await Ok(await http.PostAsync("/api/users/bad/memory/archive",
            Json(new JsonObject { ["content"] = "The user lives in Shanghai", ["supersedes"] = new JsonArray((string)beijing["id"]!) }.ToJsonString())), 201);

        foreach (var supersedes in new JsonNode?[] { "x", new JsonArray("not-an-id"), new JsonArray(1), new JsonArray(new string('0', 32)), new JsonArray((string)beijing["id"]!),
                     new JsonArray([.. Enumerable.Range(0, 21).Select(i => (JsonNode)i.ToString("x32"))]) })
        {
            var problem = await Problem(await http.PostAsync("/api/users/bad/memory/archive",
                Json(new JsonObject { ["content"] = "The user lives in Tokyo", ["supersedes"] = supersedes }.ToJsonString())), 400);
            Assert.True(problem["errors"]!.AsObject().ContainsKey("supersedes"), problem.ToJsonString());
        }

        Assert.Equal(["The user lives in Shanghai"], (await Search(http, "bad", "where does the user live")).Select(i => (string?)i!["content"]));
        Assert.Equal(2, (await Ok(await http.GetAsync("/api/users/bad/memory/archive")))["items"]!.AsArray().Count);
        Assert.Null((await Ok(await http.GetAsync($"/api/users/bad/memory/archive/{shanghai["id"]}")))["supersededAt"]);
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
