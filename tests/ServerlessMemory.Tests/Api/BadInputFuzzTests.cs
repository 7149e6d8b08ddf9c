using System.Net.Http.Headers;
using System.Text;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;
using static ServerlessMemory.Tests.Api.HttpAssert;

namespace ServerlessMemory.Tests.Api;

/// <summary>
/// A table of bad inputs over every route but chat (which answers 501 without a model): each is a
/// 4xx problem+json, never a 5xx, and a 4xx changes nothing in the store (read from the file itself).
/// </summary>
public sealed class BadInputFuzzTests(ITestOutputHelper output) : IDisposable
{
    private readonly ServiceFactory _service = new();

    private sealed record Case(string Name, HttpMethod Method, string Path, byte[]? Body = null, string? ContentType = "application/json", string? IfMatch = null);

    private static byte[] B(string text) => EncodingTests.Body(text, "").ReadAsByteArrayAsync().Result;

    private static IEnumerable<Case> Cases(string user, string id)
    {
        var u = $"/api/users/{user}";
        string[] junkBodies =
        [
            "", "null", "[]", "123", "\"text\"", "{", "}", "{\"a\":", "{}{}", "{\"content\":\"x\"} trailing", "\\xEF\\xBB\\xBF{\"content\":\"bom\"}",
            new string('[', 5000) + new string(']', 5000), "{\"content\":1e400}", "{\"content\":NaN}", "{'content':'single quotes'}",
            "{\"content\":\"a\\xFFb\"}", "{\"content\":\"\\\\ud800\"}", "{\"content\":\"\\xC0\\x80\"}", "{\"\\\\udfff\":1}", "{\"content\":\"\\xF4\\x90\\x80\\x80\"}",
            "{\"content\":\"x\",\"content\":1}", "{\"content\":\"\\\\u00\"}", "{\"content\":\"tab\there\"}",
        ];
        foreach (var (i, body) in junkBodies.Index())
        {
            yield return new($"archive junk {i}", HttpMethod.Post, $"{u}/memory/archive", B(body));
            yield return new($"block junk {i}", HttpMethod.Put, $"{u}/memory/core/human", B(body));
            yield return new($"tool junk {i}", HttpMethod.Post, $"{u}/tools/update_core_memory", B(body));
        }

        string[] archiveBodies =
        [
            """{"content":1}""", """{"content":true}""", """{"content":{}}""", """{"content":[]}""", """{"content":"   "}""", """{"content":"x","type":"FACT"}""",
            """{"content":"x","type":""}""", """{"content":"x","type":1}""", """{"content":"x","importance":-0.1}""", """{"content":"x","importance":1.0001}""",
            """{"content":"x","importance":"0.5"}""", """{"content":"x","importance":1e308}""", """{"content":"x","createdAt":"2999-01-01T00:00:00Z"}""",
            """{"content":"x","createdAt":""}""", """{"content":"x","createdAt":"2026-13-45T00:00:00Z"}""", """{"content":"x","createdAt":12345}""",
            """{"content":"x","metadata":{"k":{"n":1}}}""", """{"content":"x","metadata":["a"]}""", """{"content":"x","metadata":{"":"empty key"}}""",
            "{\"content\":\"x\",\"metadata\":{\"" + new string('k', 65) + "\":\"v\"}}", "{\"content\":\"x\",\"metadata\":{\"k\":\"" + new string('v', 257) + "\"}}",
            "{\"content\":\"x\",\"metadata\":{" + string.Join(',', Enumerable.Range(0, 17).Select(n => $"\"k{n}\":\"v\"")) + "}}",
            "{\"content\":\"" + new string('x', 4001) + "\"}", """{"content":"x","id":"forced"}""", """{"Content":"x"}""",
        ];
        foreach (var (i, body) in archiveBodies.Index())
            yield return new($"archive field {i}", HttpMethod.Post, $"{u}/memory/archive", Encoding.UTF8.GetBytes(body));

        string[] blockBodies =
        [
            """{"value":null}""", """{"value":1}""", """{"value":"x","limit":0}""", """{"value":"x","limit":-1}""", """{"value":"x","limit":20001}""",
            """{"value":"x","limit":1.5}""", """{"value":"x","limit":"10"}""", """{"value":"x","readOnly":"true"}""", """{"value":"x","readOnly":1}""",
            "{\"value\":\"" + new string('x', 2001) + "\"}", "{\"value\":\"x\",\"description\":\"" + new string('d', 1001) + "\"}", """{"value":"xx","limit":1}""",
            """{"value":"x","label":"other"}""",
        ];
        foreach (var (i, body) in blockBodies.Index())
            yield return new($"block field {i}", HttpMethod.Put, $"{u}/memory/core/human", Encoding.UTF8.GetBytes(body));

        (string Tool, string Body)[] toolBodies =
        [
            ("update_core_memory", """{"field":"human","value":"x","mode":"delete"}"""), ("update_core_memory", """{"field":"Human","value":"x"}"""),
            ("update_core_memory", """{"field":"../x","value":"x"}"""), ("update_core_memory", """{"field":"","value":"x"}"""),
            ("update_core_memory", """{"field":"human","value":"x","old":"y"}"""), ("update_core_memory", """{"field":"nosuchblock","value":"x"}"""),
            ("update_core_memory", """{"field":"human","value":"x","mode":"replace","old":"not there"}"""), ("update_core_memory", """{"field":"human\n","value":"x"}"""),
            ("update_core_memory", """{"field":"rules","value":"x"}"""), ("update_core_memory", """{"field":"human"}"""),
            ("search_archive", """{"query":""}"""), ("search_archive", """{"query":"x","top_k":0}"""), ("search_archive", """{"query":"x","top_k":21}"""),
            ("search_archive", """{"query":"x","top_k":1.5}"""), ("search_archive", "{\"query\":\"" + new string('q', 1001) + "\"}"), ("search_archive", """{"top_k":3}"""),
            ("archive_content", """{"content":""}"""), ("archive_content", """{"content":"x","type":"forever"}"""), ("archive_content", """{"content":"x","importance":2}"""),
            ("archive_content", """{"content":"x","extra":1}"""), ("archival_memory_insert", """{"content":"x","type":"fact"}"""),
            ("core_memory_replace", """{"label":"human","old_content":"","new_content":"x"}"""), ("core_memory_replace", """{"label":"human","old_content":"zzz","new_content":""}"""),
            ("core_memory_append", """{"label":"human"}"""), ("search_conversation", """{"query":"x","limit":0}"""), ("search_conversation", """{"query":"x","limit":51}"""),
            ("conversation_search", """{"query":" "}"""), ("no_such_tool", """{}"""), ("SEARCH_ARCHIVE", """{"query":"x"}"""),
        ];
        foreach (var (i, (tool, body)) in toolBodies.Index())
            yield return new($"tool args {i} {tool}", HttpMethod.Post, $"{u}/tools/{tool}", Encoding.UTF8.GetBytes(body));

        string[] contentTypes = ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=b", "application/xml", "application/json; charset=utf-16", "application/jsonx", "*/*"];
        foreach (var type in contentTypes)
        {
            yield return new($"archive as {type}", HttpMethod.Post, $"{u}/memory/archive", Encoding.UTF8.GetBytes("""{"content":"typed"}"""), type);
            yield return new($"tool as {type}", HttpMethod.Post, $"{u}/tools/archive_content", Encoding.UTF8.GetBytes("""{"content":"typed"}"""), type);
        }

        string[] ifMatches = ["abc", "W/\"1\"", "\"999\"", "\"1\", W/\"2\"", "\"\"", "\"0\"", "W/*"];
        foreach (var ifMatch in ifMatches)
        {
            yield return new($"put if-match {ifMatch}", HttpMethod.Put, $"{u}/memory/core/human", Encoding.UTF8.GetBytes("""{"value":"conditional"}"""), IfMatch: ifMatch);
            yield return new($"delete if-match {ifMatch}", HttpMethod.Delete, $"{u}/memory/core/human", null, null, ifMatch);
            yield return new($"delete absent if-match {ifMatch}", HttpMethod.Delete, $"{u}/memory/core/absent", null, null, ifMatch);
        }
        yield return new("delete read-only block", HttpMethod.Delete, $"{u}/memory/core/rules", null, null);

        string[] users = ["a%20b", "%00", "..", "%2e%2e", new string('a', 129), "%C3%BC", "alice%0A", "a%09b", "a%2Fb", "%F0%9F%98%80", "a%0D"];
        foreach (var bad in users)
        {
            yield return new($"user {bad} core", HttpMethod.Get, $"/api/users/{bad}/memory/core");
            yield return new($"user {bad} archive", HttpMethod.Post, $"/api/users/{bad}/memory/archive", Encoding.UTF8.GetBytes("""{"content":"elsewhere"}"""));
            yield return new($"user {bad} erase", HttpMethod.Delete, $"/api/users/{bad}");
        }

        string[] labels = ["A", "1abc", new string('a', 65), "human%00", "human%0A", "hu%20man", "-x", "%C3%A9"];
        foreach (var label in labels)
        {
            yield return new($"label {label} put", HttpMethod.Put, $"{u}/memory/core/{label}", Encoding.UTF8.GetBytes("""{"value":"x"}"""));
            yield return new($"label {label} delete", HttpMethod.Delete, $"{u}/memory/core/{label}");
        }

        string[] ids = [id[..31], id + "0", id.ToUpperInvariant(), "..%2F..%2Fetc", id + "%0A", "%00", new string('g', 32)];
        foreach (var bad in ids)
        {
            yield return new($"id {bad} get", HttpMethod.Get, $"{u}/memory/archive/{bad}");
            yield return new($"id {bad} delete", HttpMethod.Delete, $"{u}/memory/archive/{bad}");
        }

        string[] queries =
        [
            "memory/archive?top=abc&query=x", "memory/archive?query=x&top=1e3", "memory/archive?limit=0", "memory/archive?limit=-5", "memory/archive?limit=101",
            "memory/archive?continuationToken=%25%25%25", "memory/archive?continuationToken=eyJ4IjoxfQ", "memory/archive?query=" + new string('q', 1001),
            "memory/archive?query=%20%20", "memory/archive?query=", "memory/archive?top=5", "memory/archive?query=x&limit=5", "memory/archive?query=x&continuationToken=a",
            "messages?sessionId=s%0A", "messages?sessionId=", "messages?sessionId=a%20b", "messages?limit=0", "messages?limit=abc", "messages?continuationToken=junk",
        ];
        foreach (var query in queries)
            yield return new($"query {query[..Math.Min(60, query.Length)]}", HttpMethod.Get, $"{u}/{query}");

        yield return new("unknown route", HttpMethod.Get, "/api/nothing");
        yield return new("wrong method", HttpMethod.Patch, $"{u}/memory/core", Encoding.UTF8.GetBytes("{}"));
        yield return new("admin with a body", HttpMethod.Post, "/api/admin/decay?x=1", Encoding.UTF8.GetBytes("junk"), "text/plain");
    }

    private string StoreState()
    {
        using var connection = new SqliteConnection($"Data Source={_service.Settings["Memory:SqlitePath"]};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT (SELECT count(*) FROM archive) || '|' || (SELECT coalesce(sum(access_count), 0) FROM archive) || '|' ||
                   (SELECT coalesce(group_concat(user_id || ':' || version || ':' || length(blocks)), '') FROM core) || '|' ||
                   (SELECT count(*) FROM message) || '|' || (SELECT count(DISTINCT user_id) FROM archive)
            """;
        return (string)command.ExecuteScalar()!;
    }

    [Fact]
    public async Task Bad_inputs_over_every_route_are_4xx_problems_that_change_nothing()
    {
        var http = _service.Client();
        const string user = "fuzz";
        await Ok(await http.PutAsync($"/api/users/{user}/memory/core/human", Json("""{"value":"Alice"}""")));
        await Ok(await http.PutAsync($"/api/users/{user}/memory/core/rules", Json("""{"value":"fixed","readOnly":true}""")));
        var id = (string)(await Ok(await http.PostAsync($"/api/users/{user}/memory/archive", Json("""{"content":"seed memory"}""")), 201))["id"]!;

        var (tried, clientErrors, serverErrors, changed, accepted) = (0, 0, 0, 0, 0);
        var failures = new List<string>();
        foreach (var c in Cases(user, id))
        {
            var before = StoreState();
            var request = new HttpRequestMessage(c.Method, c.Path);
            if (c.Body is not null)
            {
                request.Content = new ByteArrayContent(c.Body);
                if (c.ContentType is not null) request.Content.Headers.TryAddWithoutValidation("Content-Type", c.ContentType);
            }
            if (c.IfMatch is not null) request.Headers.TryAddWithoutValidation("If-Match", c.IfMatch);
            var response = await http.SendAsync(request);
            var status = (int)response.StatusCode;
            var media = response.Content.Headers.ContentType?.MediaType;
            tried++;
            // Kestrel refuses a request target holding NUL itself, before any of the app runs: a bare 400.
            var bareByKestrel = c.Path.Contains("%00", StringComparison.Ordinal) && status == 400;
            if (status >= 500) { serverErrors++; failures.Add($"{c.Name}: {status}"); }
            else if (status >= 400)
            {
                clientErrors++;
                if (media != "application/problem+json" && !bareByKestrel) failures.Add($"{c.Name}: {status} as {media}");
                if (StoreState() != before) { changed++; failures.Add($"{c.Name}: {status} but the store changed"); }
            }
            else
            {
                accepted++;
                output.WriteLine($"accepted ({status}): {c.Name}");
            }
        }

        var summary = $"bad inputs: tried {tried}, 4xx {clientErrors}, 5xx {serverErrors}, state changed on a 4xx {changed}, accepted {accepted}";
        output.WriteLine(summary);
        Console.WriteLine(summary);
        Assert.True(failures.Count == 0, summary + "\n" + string.Join('\n', failures));
        Assert.Empty(_service.Logs.AtLeast(LogLevel.Error));
    }

    public void Dispose() => _service.Dispose();
}
