using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using ServerlessMemory.Core;
using static ServerlessMemory.Tests.Api.HttpAssert;
using static ServerlessMemory.Tests.Api.ImportScenario;

namespace ServerlessMemory.Tests.Api;

/// <summary><c>POST /api/users/{userId}/import</c> on the SQLite store: the export document back in, whole, once, in chunks.</summary>
public sealed class ImportTests
{
    [Fact]
    public async Task Export_then_import_into_an_empty_user_gives_the_same_export_again()
    {
        using var service = new ServiceFactory();
        var http = service.Client();
        var document = await SeedAsync(http, service.Time, "xm");
        service.Time.Advance(TimeSpan.FromHours(1));

        var report = await Ok(await ImportAsync(http, "copy", document, "fromUserId=xm"));

        Assert.True((bool)report["complete"]!);
        Assert.Equal(new ImportTallyJson(4, 0, 0, 0, 0), Tally(report, "archive"));
        Assert.Equal(new ImportTallyJson(5, 0, 0, 0, 0), Tally(report, "messages"));
        Assert.Equal(new ImportTallyJson(1, 0, 0, 0, 0), Tally(report, "sessions"));
        Assert.Equal(5, Tally(report, "core").Added);
        Assert.Null(report["cursor"]);
        var again = await ExportAsync(http, "copy");
        AssertSame(document, again);
        // The conversation reads in the order it was said, and the superseded memory stays out of search.
        var messages = (await Ok(await http.GetAsync("/api/users/copy/messages?sessionId=s1")))["items"]!.AsArray();
        Assert.Equal(["You said churn prediction.", "What project did I mention?", "Noted.", "I'm working on churn prediction."],
            messages.Select(m => (string?)m!["content"]));
        Assert.Equal("The user introduced their churn project.", (string?)(await Ok(await http.GetAsync("/api/users/copy/messages?sessionId=s1")))["summary"]);
        var found = (await Ok(await http.GetAsync("/api/users/copy/memory/archive?query=Python")))["items"]!.AsArray();
        Assert.DoesNotContain(found, i => (string?)i!["content"] == "prefers Python");
    }

    [Fact]
    public async Task Importing_the_same_document_twice_changes_nothing_the_second_time()
    {
        using var service = new ServiceFactory();
        var http = service.Client();
        var document = await SeedAsync(http, service.Time, "twice");
        await Ok(await ImportAsync(http, "twice-copy", document, "fromUserId=twice"));
        var first = await ExportAsync(http, "twice-copy");

        var report = await Ok(await ImportAsync(http, "twice-copy", document, "fromUserId=twice"));

        Assert.Equal(new ImportTallyJson(0, 0, 4, 0, 0), Tally(report, "archive"));
        Assert.Equal(new ImportTallyJson(0, 0, 5, 0, 0), Tally(report, "messages"));
        Assert.Equal(new ImportTallyJson(0, 0, 1, 0, 0), Tally(report, "sessions"));
        Assert.Equal(new ImportTallyJson(0, 0, 5, 0, 0), Tally(report, "core"));
        Assert.Equal(0, (int)report["chunks"]!);
        Assert.True(JsonNode.DeepEquals(Stable(first), Stable(await ExportAsync(http, "twice-copy"))));
        // Into the user it came from (which lacks the supersession, messages and summary added to the document), twice.
        await Ok(await ImportAsync(http, "twice", document));
        var self = await Ok(await ImportAsync(http, "twice", document));
        Assert.Equal(0, (int)self["chunks"]!);
        Assert.Equal(4, Tally(self, "archive").Skipped);
    }

    [Fact]
    public async Task A_dry_run_answers_what_would_be_added_updated_skipped_or_in_conflict_and_writes_nothing()
    {
        using var service = new ServiceFactory();
        var http = service.Client();
        var document = await SeedAsync(http, service.Time, "dry");
        // The target holds one of the memories with another importance, and a block of its own words.
        await Ok(await http.PostAsync("/api/users/dry-target/memory/archive", Json("""{"content":"用户名叫小明","type":"identity","importance":0.9}""")), 201);
        await Ok(await http.PutAsync("/api/users/dry-target/memory/core/human", Json("""{"value":"someone else"}""")));
        var before = await ExportAsync(http, "dry-target");

        var report = await Ok(await ImportAsync(http, "dry-target", document, "fromUserId=dry&dryRun=true"));

        Assert.True((bool)report["dryRun"]!);
        Assert.Equal(new ImportTallyJson(3, 0, 0, 1, 0), Tally(report, "archive"));
        Assert.Equal(new ImportTallyJson(5, 0, 0, 0, 0), Tally(report, "messages"));
        Assert.Contains(report["conflicts"]!.AsArray(), c => (string?)c!["section"] == "archive" && ((string?)c["reason"])!.Contains("importance", StringComparison.Ordinal));
        Assert.Contains(report["conflicts"]!.AsArray(), c => (string?)c!["section"] == "core" && (string?)c["id"] == "human");
        Assert.Equal(0, (int)report["chunks"]!);
        Assert.True(JsonNode.DeepEquals(Stable(before), Stable(await ExportAsync(http, "dry-target"))));
    }

    [Fact]
    public async Task Merge_keeps_what_the_store_holds_and_takes_the_later_accesses_and_supersessions_of_the_document()
    {
        using var service = new ServiceFactory();
        var http = service.Client();
        var document = await SeedAsync(http, service.Time, "merge");
        await Ok(await http.PostAsync("/api/users/merge/memory/archive", Json("""{"content":"only in the store","type":"identity"}""")), 201);
        // The document knows of three more recalls of the cat, and of the supersession, which the store does not.
        var cat = document["archive"]!.AsArray().Single(i => (string?)i!["content"] == "I adopted a cat named Miso")!;
        cat["accessCount"] = (int)cat["accessCount"]! + 3;
        cat["lastAccessedAt"] = UtcTime.ToText(service.Time.GetUtcNow());

        var report = await Ok(await ImportAsync(http, "merge", document));

        Assert.Equal(new ImportTallyJson(0, 2, 2, 0, 0), Tally(report, "archive"));
        var after = await ExportAsync(http, "merge");
        var stored = after["archive"]!.AsArray().ToDictionary(i => (string)i!["content"]!);
        Assert.Contains("only in the store", stored.Keys);
        Assert.Equal((int)cat["accessCount"]!, (int)stored["I adopted a cat named Miso"]!["accessCount"]!);
        Assert.Equal((string?)cat["lastAccessedAt"], (string?)stored["I adopted a cat named Miso"]!["lastAccessedAt"]);
        Assert.NotNull((string?)stored["prefers Python"]!["supersededAt"]);
        // Three more recalls hold it longer.
        Assert.True(DateTimeOffset.Parse((string)stored["I adopted a cat named Miso"]!["forgetAt"]!) > DateTimeOffset.Parse((string)cat["forgetAt"]!));
    }

    [Fact]
    public async Task Replace_makes_the_users_memory_the_documents()
    {
        using var service = new ServiceFactory();
        var http = service.Client();
        var document = await SeedAsync(http, service.Time, "rep");
        await Ok(await http.PostAsync("/api/users/rep/memory/archive", Json("""{"content":"written after the export","type":"identity"}""")), 201);
        await Ok(await http.PutAsync("/api/users/rep/memory/core/human", Json("""{"value":"changed after the export"}""")));

        var report = await Ok(await ImportAsync(http, "rep", document, "mode=replace"));

        Assert.Equal("replace", (string?)report["mode"]);
        AssertSame(document, await ExportAsync(http, "rep"));
    }

    [Fact]
    public async Task A_replace_whose_document_goes_bad_part_way_is_a_400_and_erases_nothing()
    {
        // Chunks of one record: without a check of the whole document first, the user would be erased
        // and all but the last memory written before the bad one was read.
        using var service = new ServiceFactory();
        service.Settings["Memory:Limits:ImportChunkRecords"] = "1";
        var http = service.Client();
        var document = await SeedAsync(http, service.Time, "keep");
        await Ok(await http.PostAsync("/api/users/keep/memory/archive", Json("""{"content":"written after the export","type":"identity"}""")), 201);
        var before = await ExportAsync(http, "keep");
        var archive = document["archive"]!.AsArray();
        archive[^1]!["type"] = "gossip";

        var problem = await Problem(await ImportAsync(http, "keep", document, "mode=replace"), 400);

        Assert.Contains("type", problem["errors"]!.ToJsonString(), StringComparison.Ordinal);
        Assert.Null(problem["imported"]);
        AssertSame(before, await ExportAsync(http, "keep"));
    }

    [Fact]
    public async Task A_memory_past_its_forgetting_point_is_reported_and_not_stored_and_decay_state_moves_with_the_memory()
    {
        using var service = new ServiceFactory();
        var http = service.Client();
        await Ok(await http.PostAsync("/api/users/old/memory/archive", Json("""{"content":"had a coffee","type":"trivial","importance":0.1}""")), 201);
        await Ok(await http.PostAsync("/api/users/old/memory/archive", Json("""{"content":"lives in Hangzhou","type":"fact","importance":0.6}""")), 201);
        var document = await ExportAsync(http, "old");
        var original = document["archive"]!.AsArray().Single(i => (string?)i!["content"] == "lives in Hangzhou")!;
        // Nine hours later the coffee (trivial, 0.1) is past its forgetting point; the fact is not, and keeps its own.
        service.Time.Advance(TimeSpan.FromHours(9));

        var report = await Ok(await ImportAsync(http, "new", document, "fromUserId=old"));

        Assert.Equal(new ImportTallyJson(1, 0, 0, 0, 1), Tally(report, "archive"));
        Assert.Equal([LexicalTerms.ContentHash("had a coffee")], report["forgotten"]!.AsArray().Select(i => (string?)i));
        var items = (await ExportAsync(http, "new"))["archive"]!.AsArray();
        var moved = Assert.Single(items)!;
        Assert.Equal(((string?)original["enteredAt"], (string?)original["forgetAt"]), ((string?)moved["enteredAt"], (string?)moved["forgetAt"]));
    }

    [Fact]
    public async Task A_dated_memory_in_the_document_enters_when_the_document_says_not_now()
    {
        using var service = new ServiceFactory();
        var http = service.Client();
        var document = JsonNode.Parse($$"""
            { "format": "serverless-memory/1", "userId": "dated", "exportedAt": "2026-03-01T07:00:00.000Z", "store": "sqlite", "core": null,
              "archive": [ { "id": "{{LexicalTerms.ContentHash("likes oolong tea")}}", "content": "likes oolong tea", "type": "preference", "importance": 0.8,
                "createdAt": "2025-01-01T00:00:00.000Z", "enteredAt": "2026-02-28T08:00:00.000Z", "lastAccessedAt": "2026-02-28T08:00:00.000Z",
                "accessCount": 0, "forgetAt": null, "supersededAt": null, "supersededBy": null, "metadata": {} } ],
              "messages": [], "sessions": [] }
            """)!.AsObject();

        await Ok(await ImportAsync(http, "dated", document));

        var item = (await ExportAsync(http, "dated"))["archive"]![0]!;
        Assert.Equal(("2025-01-01T00:00:00.000Z", "2026-02-28T08:00:00.000Z"), ((string?)item["createdAt"], (string?)item["enteredAt"]));
        // preference 0.8 at 0.01/h from its entry a day ago: ln(0.8/0.01)/0.01 = 438.2 h after it entered.
        Assert.Equal(DateTimeOffset.Parse("2026-02-28T08:00:00Z").AddHours(Math.Log(0.8 / 0.01) / 0.01), DateTimeOffset.Parse((string)item["forgetAt"]!), TimeSpan.FromMilliseconds(1));
    }

    public static TheoryData<string, string, string> BadDocuments => new()
    {
        { "another version", Q("format", "serverless-memory/1"), Q("format", "serverless-memory/2") },
        { "another user", Q("userId", "bad"), Q("userId", "mallory") },
        { "a memory over the limits", Q("content", "likes tea"), Q("content", new string('x', 4001)) },
        { "an id that is not its content's", Q("content", "likes tea"), Q("content", "likes coffee") },
        { "an unknown field", Q("store", "sqlite"), Q("store", "sqlite") + ", \"surprise\": 1" },
        { "a time in the future", Q("createdAt", "2026-03-01T07:00:00.000Z"), Q("createdAt", "2027-03-01T07:00:00.000Z") },
        { "an unknown type", Q("type", "fact"), Q("type", "gossip") },
    };

    private static string Q(string name, string value) => $"\"{name}\": \"{value}\"";

    [Theory]
    [MemberData(nameof(BadDocuments))]
    public async Task A_bad_document_is_a_400_naming_the_problem_and_imports_nothing(string problem, string find, string replace)
    {
        using var service = new ServiceFactory();
        var http = service.Client();
        var text = GoodDocument("bad").Replace(find, replace, StringComparison.Ordinal);
        Assert.NotEqual(GoodDocument("bad"), text);

        var body = await Problem(await ImportAsync(http, "bad", text), 400);

        Assert.NotNull(body["errors"]);
        Assert.True(((string?)body["detail"])?.Length > 10, problem);
        Assert.Empty((await ExportAsync(http, "bad"))["archive"]!.AsArray());
        Assert.Empty((await ExportAsync(http, "bad"))["messages"]!.AsArray());
    }

    [Fact]
    public async Task Duplicate_ids_a_truncated_file_and_a_document_that_is_not_json_are_each_a_400_that_says_so()
    {
        using var service = new ServiceFactory();
        var http = service.Client();
        var good = JsonNode.Parse(GoodDocument("dup"))!.AsObject();
        var twice = good.DeepClone().AsObject();
        twice["archive"]!.AsArray().Add(twice["archive"]![0]!.DeepClone());
        var text = good.ToJsonString();

        var duplicate = await Problem(await ImportAsync(http, "dup", twice), 400);
        var truncated = await Problem(await ImportAsync(http, "dup", text[..(text.Length * 2 / 3)]), 400);
        var broken = await Problem(await ImportAsync(http, "dup", text.Replace("\"archive\": [", "\"archive\": [}", StringComparison.Ordinal).Replace("\"archive\":[", "\"archive\":[}", StringComparison.Ordinal)), 400);

        Assert.Contains("appears twice", (string?)duplicate["detail"], StringComparison.Ordinal);
        Assert.Contains("truncated", (string?)truncated["detail"], StringComparison.Ordinal);
        Assert.Contains("not valid JSON", (string?)broken["detail"], StringComparison.Ordinal);
        Assert.Empty((await ExportAsync(http, "dup"))["archive"]!.AsArray());
    }

    [Fact]
    public async Task A_body_over_the_import_limit_is_a_413_before_it_is_read_and_one_without_a_length_when_it_passes_the_limit()
    {
        using var service = new ServiceFactory();
        service.Settings["Memory:Limits:ImportBodyBytes"] = "100000";
        var http = service.Client();

        // A 1 GB Content-Length is answered at once, the body never sent.
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(http.BaseAddress!.Host, http.BaseAddress.Port);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"POST /api/users/big/import HTTP/1.1\r\nHost: {http.BaseAddress.Authority}\r\nContent-Type: application/json\r\nContent-Length: 1073741824\r\n\r\n{{\"format\":"));
        var answer = new byte[4096];
        var read = await stream.ReadAsync(answer).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        var head = Encoding.ASCII.GetString(answer, 0, read);
        Assert.StartsWith("HTTP/1.1 413", head, StringComparison.Ordinal);
        Assert.Contains("application/problem+json", head, StringComparison.Ordinal);

        // Chunked, with no length to go by: refused once it passes the limit (here white space, which JSON allows anywhere).
        var padding = new string(' ', 200_000);
        using var chunked = new StringContent($$"""{"format":"serverless-memory/1","userId":"big","exportedAt":"2026-03-01T07:00:00.000Z","store":"sqlite","core":null,"archive":[{{padding}}],"messages":[],"sessions":[]}""",
            Encoding.UTF8, "application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/users/big/import") { Content = new StreamContent(await chunked.ReadAsStreamAsync()) };
        request.Content.Headers.ContentType = new("application/json");
        request.Headers.TransferEncodingChunked = true;
        var body = await Problem(await http.SendAsync(request), 413);
        Assert.Contains("100000", (string?)body["detail"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_large_import_lands_in_atomic_chunks_and_one_interrupted_says_what_landed_and_resumes_from_its_cursor()
    {
        using var service = new ServiceFactory();
        service.Settings["Memory:Limits:ImportChunkRecords"] = "3";
        var failing = new FailingStore.Switch();
        service.TestServices = services => FailingStore.Decorate(services, failing);
        var http = service.Client();
        var document = await SeedAsync(http, service.Time, "big");
        failing.FailCommitsAfter = 2;

        var interrupted = await Problem(await ImportAsync(http, "big-copy", document, "fromUserId=big"), 503);

        var imported = interrupted["imported"]!.AsObject();
        Assert.False((bool)imported["complete"]!);
        Assert.Equal(2, (int)imported["chunks"]!);
        var cursor = (string)imported["cursor"]!;
        // What landed is exactly the chunks reported: core (one chunk) and the three newest memories (the next).
        var landed = await ExportAsync(http, "big-copy");
        Assert.Equal(3, landed["archive"]!.AsArray().Count);
        Assert.Equal(1 + 3, (int)imported["records"]!);

        failing.FailCommitsAfter = null;
        var resumed = await Ok(await ImportAsync(http, "big-copy", document, $"fromUserId=big&cursor={cursor}"));

        Assert.True((bool)resumed["complete"]!);
        Assert.Equal(1, Tally(resumed, "archive").Added);
        AssertSame(document, await ExportAsync(http, "big-copy"));
        await Problem(await ImportAsync(http, "big-copy", document, $"fromUserId=big&cursor={cursor}&mode=replace"), 400);
        await Problem(await ImportAsync(http, "big-copy", document, "fromUserId=big&cursor=nonsense"), 400);
    }

    [Fact]
    public async Task A_bad_query_is_a_400_and_a_body_in_another_media_type_a_415()
    {
        using var service = new ServiceFactory();
        var http = service.Client();

        await Problem(await ImportAsync(http, "q", GoodDocument("q"), "mode=overwrite"), 400);
        await Problem(await ImportAsync(http, "q", GoodDocument("q"), "dryRun=maybe"), 400);
        await Problem(await ImportAsync(http, "q", GoodDocument("q"), "fromUserId=bad%20user"), 400);
        await Problem(await http.PostAsync("/api/users/q/import", new StringContent(GoodDocument("q"), Encoding.UTF8, "text/plain")), 415);
        Assert.Empty((await ExportAsync(http, "q"))["archive"]!.AsArray());
    }

    /// <summary>A small valid document of <paramref name="user"/>, as the export writes it (indented, one memory, one message).</summary>
    private static string GoodDocument(string user) => $$"""
        {
          "format": "serverless-memory/1",
          "userId": "{{user}}",
          "exportedAt": "2026-03-01T07:00:00.000Z",
          "store": "sqlite",
          "core": null,
          "archive": [
            { "id": "{{LexicalTerms.ContentHash("likes tea")}}", "content": "likes tea", "type": "fact", "importance": 0.6,
              "createdAt": "2026-03-01T07:00:00.000Z", "enteredAt": "2026-03-01T07:00:00.000Z", "lastAccessedAt": "2026-03-01T07:00:00.000Z",
              "accessCount": 0, "forgetAt": null, "supersededAt": null, "supersededBy": null, "metadata": {} }
          ],
          "messages": [
            { "id": "m1", "sessionId": "default", "turnId": "t1", "role": "user", "content": "hello", "createdAt": "2026-03-01T07:00:00.000Z" }
          ],
          "sessions": []
        }
        """;
}
