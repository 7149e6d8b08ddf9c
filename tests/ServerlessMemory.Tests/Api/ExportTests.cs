using System.Text.Json.Nodes;
using ServerlessMemory.Core;
using ServerlessMemory.Tests.Functions;
using ServerlessMemory.Tests.Scripted;
using static ServerlessMemory.Tests.Api.HttpAssert;
using static ServerlessMemory.Tests.Chat.ChatRequests;

namespace ServerlessMemory.Tests.Api;

/// <summary><c>GET /api/users/{userId}/export</c>: everything kept for a user, streamed, in the published format.</summary>
public sealed class ExportTests : IAsyncLifetime
{
    private ScriptedModelServer _model = null!;

    public async Task InitializeAsync() => _model = await ScriptedModelServer.StartAsync();

    public async Task DisposeAsync() => await _model.DisposeAsync();

    private static readonly Lazy<JsonObject> Schema = new(() => JsonNode.Parse(File.ReadAllText(Path.Combine(RepoRoot.Path, "docs", "export.schema.json")))!.AsObject());

    private static async Task<JsonObject> Export(HttpClient http, string user)
    {
        var response = await http.GetAsync($"/api/users/{user}/export");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return await Ok(response);
    }

    private static void AssertValid(JsonObject document)
    {
        Assert.Empty(SchemaCheck.Errors(Schema.Value, document));
    }

    [Fact]
    public async Task The_export_holds_core_archive_and_conversation_with_their_times_in_the_published_format()
    {
        _model.Chat = request => IsExtraction(request) ? new(NoExtraction) : new(Status: 500);
        using var service = Service(_model);
        var http = service.Client();
        await Ok(await http.PutAsync("/api/users/xm/memory/core/human", Json("""{"value":"小明, a data scientist"}""")));
        await Ok(await http.PostAsync("/api/users/xm/tools/update_core_memory", Json("""{"field":"preferences","value":"concise answers"}""")));
        var miso = await Ok(await http.PostAsync("/api/users/xm/memory/archive",
            Json("""{"content":"I adopted a cat named Miso","type":"fact","importance":0.6,"createdAt":"2025-06-01T10:00:00Z","metadata":{"subject":"pets"}}""")), 201);
        service.Time.Advance(TimeSpan.FromMinutes(5));
        await Ok(await http.PostAsync("/api/users/xm/memory/archive", Json("""{"content":"用户名叫小明","type":"identity","importance":1}""")), 201);
        await Ok(await http.GetAsync("/api/users/xm/memory/archive?query=Miso"));
        await Ok(await http.PostAsync("/api/users/xm/turns", Json("""{"sessionId":"s1","messages":[{"role":"user","content":"hello"},{"role":"assistant","content":"hi"}]}""")));

        var document = await Export(http, "xm");

        AssertValid(document);
        Assert.Equal((MemoryExport.Format, "xm", "sqlite"), ((string?)document["format"], (string?)document["userId"], (string?)document["store"]));
        var blocks = document["core"]!["blocks"]!.AsArray();
        Assert.Equal("小明, a data scientist", (string?)blocks.Single(b => (string?)b!["label"] == "human")!["value"]);
        var preferences = blocks.Single(b => (string?)b!["label"] == "preferences")!;
        Assert.Equal("concise answers", (string?)preferences["value"]);
        Assert.Equal("2026-03-01T08:00:00.000Z", (string?)preferences["added"]!["concise answers"]);
        var archive = document["archive"]!.AsArray();
        Assert.Equal(["用户名叫小明", "I adopted a cat named Miso"], archive.Select(i => (string?)i!["content"]));
        var cat = archive[1]!;
        Assert.Equal(("2025-06-01T10:00:00.000Z", "2026-03-01T08:00:00.000Z", "2026-03-01T08:05:00.000Z", 1, "pets"),
            ((string?)cat["createdAt"], (string?)cat["enteredAt"], (string?)cat["lastAccessedAt"], (int)cat["accessCount"]!, (string?)cat["metadata"]!["subject"]));
        Assert.Equal((string?)miso["id"], (string?)cat["id"]);
        Assert.NotNull(cat["forgetAt"]);
        Assert.Null(archive[0]!["forgetAt"]);
        Assert.Equal([("s1", "assistant", "hi"), ("s1", "user", "hello")],
            document["messages"]!.AsArray().Select(m => ((string?)m!["sessionId"], (string?)m["role"], (string?)m["content"])));
        Assert.Empty(document["sessions"]!.AsArray());
    }

    [Fact]
    public async Task A_restated_memory_exports_current_with_each_period_it_was_true()
    {
        using var service = new ServiceFactory();
        var http = service.Client();
        var t0 = service.Time.GetUtcNow();
        var beijing = await Ok(await http.PostAsync("/api/users/moves/memory/archive", Json("""{"content":"The user lives in Beijing"}""")), 201);
        service.Time.Advance(TimeSpan.FromDays(1));
        var shanghai = await Ok(await http.PostAsync("/api/users/moves/memory/archive",
            Json(new JsonObject { ["content"] = "The user lives in Shanghai", ["supersedes"] = new JsonArray((string)beijing["id"]!) }.ToJsonString())), 201);
        service.Time.Advance(TimeSpan.FromDays(1));
        await Ok(await http.PostAsync("/api/users/moves/memory/archive", Json("""{"content":"The user lives in Beijing"}""")), 200);
        await Ok(await http.PostAsync("/api/users/moves/memory/archive", Json("""{"content":"The user likes tea"}""")), 201);

        var document = await Export(http, "moves");

        AssertValid(document);
        var items = document["archive"]!.AsArray().ToDictionary(i => (string)i!["content"]!);
        var (b, s, t) = ((string)beijing["id"]!, (string)shanghai["id"]!, (Func<int, string>)(days => Core.UtcTime.ToText(t0.AddDays(days))));
        Assert.Equal((t(2), null), ((string?)items["The user lives in Beijing"]!["createdAt"], (string?)items["The user lives in Beijing"]!["supersededAt"]));
        Assert.Equal($$"""[{"from":"{{t(0)}}","to":"{{t(1)}}","supersededBy":"{{s}}"}]""", items["The user lives in Beijing"]!["history"]!.ToJsonString());
        Assert.Equal($$"""[{"from":"{{t(1)}}","to":"{{t(2)}}","supersededBy":"{{b}}"}]""", items["The user lives in Shanghai"]!["history"]!.ToJsonString());
        Assert.Empty(items["The user likes tea"]!["history"]!.AsArray());
    }

    [Fact]
    public async Task A_user_of_more_memories_than_a_page_exports_each_once_and_a_forgotten_one_not_at_all()
    {
        using var service = new ServiceFactory();
        var http = service.Client();
        await Ok(await http.PostAsync("/api/users/many/memory/archive", Json("""{"content":"had a coffee","type":"trivial","importance":0.1}""")), 201);
        service.Time.Advance(TimeSpan.FromHours(9));
        var contents = Enumerable.Range(0, MemoryExport.PageSize * 2 + 7).Select(i => $"memory number {i}").ToList();
        await Parallel.ForEachAsync(contents, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (content, ct) =>
            await Ok(await http.PostAsync("/api/users/many/memory/archive", Json(new JsonObject { ["content"] = content }.ToJsonString()), ct), 201));

        var document = await Export(http, "many");

        AssertValid(document);
        Assert.Equal(contents.Order(), document["archive"]!.AsArray().Select(i => (string)i!["content"]!).Order());
        Assert.Null(document["core"]);
    }

    [Fact]
    public async Task With_vectors_each_memory_carries_its_stored_vector_and_the_document_names_the_model()
    {
        using var service = Service(_model, embeddings: true);
        var http = service.Client();
        await Ok(await http.PostAsync("/api/users/vec/memory/archive", Json("""{"content":"likes oolong tea"}""")), 201);
        _model.EmbeddingFault = new(Status: 500);
        await Ok(await http.PostAsync("/api/users/vec/memory/archive", Json("""{"content":"stored in an outage"}""")), 201);

        var document = await Ok(await http.GetAsync("/api/users/vec/export?vectors=true"));
        var plain = await Export(http, "vec");

        AssertValid(document);
        Assert.Equal(("text-embedding-3-small", 64), ((string?)document["vectors"]!["model"], (int)document["vectors"]!["dimensions"]!));
        var items = document["archive"]!.AsArray().ToDictionary(i => (string)i!["content"]!);
        Assert.Equal(ScriptedModelServer.HashedTerms("likes oolong tea"), items["likes oolong tea"]!["vector"]!.AsArray().Select(x => (float)x!));
        Assert.Null(items["stored in an outage"]!["vector"]);
        Assert.Null(plain["vectors"]);
        Assert.All(plain["archive"]!.AsArray(), i => Assert.False(i!.AsObject().ContainsKey("vector")));
        Assert.Contains("vectors", (await Problem(await http.GetAsync("/api/users/vec/export?vectors=yes"), 400)).ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_schema_check_finds_what_the_published_format_does_not_allow()
    {
        using var service = new ServiceFactory();
        var http = service.Client();
        await Ok(await http.PostAsync("/api/users/schema/memory/archive", Json("""{"content":"likes tea"}""")), 201);
        var document = await Export(http, "schema");

        var item = document["archive"]![0]!.AsObject();
        item.Remove("enteredAt");
        item["accessCount"] = -1;
        item["surprise"] = true;
        document["format"] = "serverless-memory/2";

        Assert.Equal(["$: is not \"serverless-memory/1\"", "$.archive[0]: lacks 'enteredAt'", "$.archive[0].accessCount: below 0", "$.archive[0]: 'surprise' is not in the schema"],
            SchemaCheck.Errors(Schema.Value, document).Select(e => e.Replace("$.format", "$", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task An_unknown_user_exports_an_empty_document_and_a_bad_request_is_a_400()
    {
        using var service = new ServiceFactory();
        var http = service.Client();

        var document = await Export(http, "nobody");

        AssertValid(document);
        Assert.Empty(document["archive"]!.AsArray());
        Assert.Empty(document["messages"]!.AsArray());
        await Problem(await http.GetAsync("/api/users/bad%20user/export"), 400);
    }
}
