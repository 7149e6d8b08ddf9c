using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using static ServerlessMemory.Tests.Api.HttpAssert;

namespace ServerlessMemory.Tests.Api;

/// <summary>Ids, preconditions, deletes, parameters, media types and times: one contract, held at its edges.</summary>
public sealed partial class ContractHardeningTests(ServiceFactory service) : IClassFixture<ServiceFactory>
{
    private readonly HttpClient _http = service.Client();

    private static string NewUser() => "hard-" + Guid.NewGuid().ToString("N")[..8];

    private async Task<JsonObject> Core(string user) => await Ok(await _http.GetAsync($"/api/users/{user}/memory/core"));

    private static string? Value(JsonObject core, string label) =>
        (string?)core["blocks"]!.AsArray().SingleOrDefault(b => (string?)b!["label"] == label)?["value"];

    private async Task<string> AddMemory(string user, string content) =>
        (string)(await Ok(await _http.PostAsync($"/api/users/{user}/memory/archive", Json(new JsonObject { ["content"] = content }.ToJsonString())), 201))["id"]!;

    private HttpRequestMessage WithIfMatch(HttpMethod method, string path, string ifMatch, string? body = null)
    {
        var request = new HttpRequestMessage(method, path) { Content = body is null ? null : Json(body) };
        request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
        return request;
    }

    // ids are matched whole: '$' would match before a final newline

    [Theory]
    [InlineData("alice%0A")]
    [InlineData("alice%0D%0A")]
    [InlineData("%0Aalice")]
    public async Task A_user_id_with_a_newline_is_a_400(string user) =>
        await Problem(await _http.GetAsync($"/api/users/{user}/memory/core"), 400);

    [Fact]
    public async Task A_label_with_a_trailing_newline_is_a_400_and_creates_no_block()
    {
        var user = NewUser();
        await Problem(await _http.PutAsync($"/api/users/{user}/memory/core/human%0A", Json("""{"value":"x"}""")), 400);
        await Problem(await _http.PostAsync($"/api/users/{user}/tools/update_core_memory", Json("""{"field":"human\n","value":"x"}""")), 400);

        Assert.Equal(5, (await Core(user))["blocks"]!.AsArray().Count);
    }

    [Fact]
    public async Task A_session_id_with_a_trailing_newline_is_a_400() =>
        await Problem(await _http.GetAsync($"/api/users/{NewUser()}/messages?sessionId=s%0A"), 400);

    [Fact]
    public async Task An_archive_id_is_matched_whole()
    {
        var user = NewUser();
        var id = await AddMemory(user, "kept as it is");

        await Problem(await _http.GetAsync($"/api/users/{user}/memory/archive/{id}%0A"), 400);
        await Problem(await _http.DeleteAsync($"/api/users/{user}/memory/archive/{id}%0A"), 400);
        await Problem(await _http.GetAsync($"/api/users/{user}/memory/archive/not-an-id"), 400);
        await Ok(await _http.GetAsync($"/api/users/{user}/memory/archive/{id}"));
    }

    // DELETE

    [Fact]
    public async Task A_read_only_block_cannot_be_deleted()
    {
        var user = NewUser();
        await Ok(await _http.PutAsync($"/api/users/{user}/memory/core/rules", Json("""{"value":"never share secrets","readOnly":true}""")));

        await Problem(await _http.DeleteAsync($"/api/users/{user}/memory/core/rules"), 400);

        Assert.Equal("never share secrets", Value(await Core(user), "rules"));
    }

    [Theory]
    [InlineData("\"999\"")]
    [InlineData("*")]
    [InlineData("CURRENT")]
    public async Task If_match_on_a_block_that_is_not_there_is_a_412(string ifMatch)
    {
        var user = NewUser();
        await Ok(await _http.PutAsync($"/api/users/{user}/memory/core/human", Json("""{"value":"x"}""")));
        var before = await Core(user);
        ifMatch = ifMatch == "CURRENT" ? (string)before["etag"]! : ifMatch;

        await Problem(await _http.SendAsync(WithIfMatch(HttpMethod.Delete, $"/api/users/{user}/memory/core/absent", ifMatch)), 412);

        Assert.Equal(before.ToJsonString(), (await Core(user)).ToJsonString());
    }

    [Fact]
    public async Task Of_twenty_concurrent_deletes_of_one_memory_exactly_one_is_a_204()
    {
        var user = NewUser();
        var id = await AddMemory(user, "deleted once only");

        var answers = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => _http.DeleteAsync($"/api/users/{user}/memory/archive/{id}")));

        Assert.Equal(1, answers.Count(a => a.StatusCode == HttpStatusCode.NoContent));
        Assert.Equal(19, answers.Count(a => a.StatusCode == HttpStatusCode.NotFound));
    }

    // ETag and If-Match (RFC 9110: strong comparison, '*', a list)

    [Fact]
    public async Task A_new_users_core_memory_has_an_etag_in_the_body_and_the_header()
    {
        var user = NewUser();
        var response = await _http.GetAsync($"/api/users/{user}/memory/core");
        var core = await Ok(response);

        var etag = (string?)core["etag"];
        Assert.False(string.IsNullOrEmpty(etag));
        Assert.Equal(etag, response.Headers.ETag?.Tag);
        Assert.False(response.Headers.ETag!.IsWeak);

        await Ok(await _http.SendAsync(WithIfMatch(HttpMethod.Put, $"/api/users/{user}/memory/core/human", etag!, """{"value":"first"}""")));
        await Problem(await _http.SendAsync(WithIfMatch(HttpMethod.Put, $"/api/users/{user}/memory/core/human", etag!, """{"value":"second"}""")), 412);
        Assert.Equal("first", Value(await Core(user), "human"));
    }

    [Fact]
    public async Task A_written_core_memory_sends_its_etag_header_on_every_read()
    {
        var user = NewUser();
        var put = await _http.PutAsync($"/api/users/{user}/memory/core/human", Json("""{"value":"x"}"""));
        var read = await _http.GetAsync($"/api/users/{user}/memory/core");

        Assert.Equal(put.Headers.ETag?.Tag, read.Headers.ETag?.Tag);
        Assert.Equal((string?)(await Ok(read))["etag"], read.Headers.ETag?.Tag);
    }

    [Fact]
    public async Task A_weak_etag_never_matches()
    {
        var user = NewUser();
        var etag = (await _http.PutAsync($"/api/users/{user}/memory/core/human", Json("""{"value":"x"}"""))).Headers.ETag!.Tag;

        await Problem(await _http.SendAsync(WithIfMatch(HttpMethod.Put, $"/api/users/{user}/memory/core/human", "W/" + etag, """{"value":"weak"}""")), 412);
        await Problem(await _http.SendAsync(WithIfMatch(HttpMethod.Delete, $"/api/users/{user}/memory/core/human", "W/" + etag)), 412);

        Assert.Equal("x", Value(await Core(user), "human"));
    }

    [Fact]
    public async Task If_match_takes_a_list_and_a_star()
    {
        var user = NewUser();
        var etag = (await _http.PutAsync($"/api/users/{user}/memory/core/human", Json("""{"value":"x"}"""))).Headers.ETag!.Tag;

        var listed = await _http.SendAsync(WithIfMatch(HttpMethod.Put, $"/api/users/{user}/memory/core/human", $"\"nope\", {etag}", """{"value":"y"}"""));
        await Ok(listed);
        await Ok(await _http.SendAsync(WithIfMatch(HttpMethod.Put, $"/api/users/{user}/memory/core/human", "*", """{"value":"z"}""")));
        await Problem(await _http.SendAsync(WithIfMatch(HttpMethod.Put, $"/api/users/{user}/memory/core/fresh", "*", """{"value":"z"}""")), 412);
        Assert.Equal(HttpStatusCode.NoContent, (await _http.SendAsync(WithIfMatch(HttpMethod.Delete, $"/api/users/{user}/memory/core/human", "*"))).StatusCode);

        var core = await Core(user);
        Assert.Null(Value(core, "human"));
        Assert.Null(Value(core, "fresh"));
    }

    // replace that matched nothing

    [Theory]
    [InlineData("update_core_memory", """{"field":"human","mode":"replace","old":"absent text","value":""}""")]
    [InlineData("update_core_memory", """{"field":"human","mode":"replace","old":"absent text","value":"Alice"}""")]
    [InlineData("core_memory_replace", """{"label":"human","old_content":"absent text","new_content":""}""")]
    [InlineData("core_memory_replace", """{"label":"human","old_content":"absent text","new_content":"Alice"}""")]
    public async Task A_replace_that_matches_nothing_is_a_400(string tool, string arguments)
    {
        var user = NewUser();
        await Ok(await _http.PutAsync($"/api/users/{user}/memory/core/human", Json("""{"value":"Alice, a pilot"}""")));

        var problem = await Problem(await _http.PostAsync($"/api/users/{user}/tools/{tool}", Json(arguments)), 400);

        Assert.NotNull(problem["errors"]![tool == "core_memory_replace" ? "old_content" : "old"]);
        Assert.Equal("Alice, a pilot", Value(await Core(user), "human"));
    }

    // parameters that do not apply

    [Theory]
    [InlineData("memory/archive?top=3", "top")]
    [InlineData("memory/archive?query=x&limit=5", "limit")]
    [InlineData("memory/archive?query=x&continuationToken=abc", "continuationToken")]
    public async Task A_parameter_that_does_not_apply_is_a_400_naming_it(string path, string parameter)
    {
        var problem = await Problem(await _http.GetAsync($"/api/users/{NewUser()}/{path}"), 400);

        Assert.NotNull(problem["errors"]![parameter]);
    }

    // media types

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData("multipart/form-data; boundary=x")]
    [InlineData("application/xml")]
    [InlineData("application/json; charset=latin1")]
    public async Task A_body_that_is_not_json_is_a_415_and_stores_nothing(string contentType)
    {
        var user = NewUser();
        foreach (var path in new[] { $"/api/users/{user}/memory/archive", $"/api/users/{user}/tools/archive_content" })
        {
            var content = new ByteArrayContent("""{"content":"looks like json"}"""u8.ToArray());
            content.Headers.TryAddWithoutValidation("Content-Type", contentType);
            await Problem(await _http.PostAsync(path, content), 415);
        }
        var put = new ByteArrayContent("""{"value":"x"}"""u8.ToArray());
        put.Headers.ContentType = new MediaTypeHeaderValue("text/plain");
        await Problem(await _http.PutAsync($"/api/users/{user}/memory/core/human", put), 415);

        Assert.Empty((await Ok(await _http.GetAsync($"/api/users/{user}/memory/archive")))["items"]!.AsArray());
        Assert.Equal("", Value(await Core(user), "human"));
    }

    [Fact]
    public async Task A_json_suffix_media_type_is_json()
    {
        var content = new ByteArrayContent("""{"content":"problem-shaped but fine"}"""u8.ToArray());
        content.Headers.ContentType = new MediaTypeHeaderValue("application/merge-patch+json");
        await Ok(await _http.PostAsync($"/api/users/{NewUser()}/memory/archive", content), 201);
    }

    [Fact]
    public async Task Unknown_routes_and_methods_answer_problem_json()
    {
        await Problem(await _http.GetAsync("/api/nothing-here"), 404);
        await Problem(await _http.PatchAsync($"/api/users/{NewUser()}/memory/core", Json("{}")), 405);
    }

    // times

    [GeneratedRegex(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")]
    private static partial Regex UtcMilliseconds();

    [Fact]
    public async Task Times_are_utc_with_milliseconds_and_a_post_answers_what_a_get_reads_back()
    {
        var user = NewUser();
        service.Time.Advance(TimeSpan.FromTicks(1_234_567));
        var minute = service.Time.GetUtcNow().AddMinutes(-5);
        var at = new DateTimeOffset(minute.Ticks - minute.Ticks % TimeSpan.TicksPerSecond + 1_234_567, TimeSpan.Zero);
        var sent = at.ToOffset(TimeSpan.FromHours(2)).ToString("yyyy-MM-dd'T'HH:mm:ss.fffffffzzz", System.Globalization.CultureInfo.InvariantCulture);
        var created = await Ok(await _http.PostAsync($"/api/users/{user}/memory/archive", Json(new JsonObject { ["content"] = "a time to check", ["createdAt"] = sent }.ToJsonString())), 201);
        var read = await Ok(await _http.GetAsync($"/api/users/{user}/memory/archive/{created["id"]}"));
        var listed = (await Ok(await _http.GetAsync($"/api/users/{user}/memory/archive")))["items"]![0]!.AsObject();

        foreach (var field in new[] { "createdAt", "lastAccessedAt", "forgetAt" })
        {
            Assert.Matches(UtcMilliseconds(), (string)created[field]!);
            Assert.Equal((string?)created[field], (string?)read[field]);
            Assert.Equal((string?)created[field], (string?)listed[field]);
        }
        Assert.Equal(at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'.123Z'", System.Globalization.CultureInfo.InvariantCulture), (string?)created["createdAt"]);

        var tool = await Ok(await _http.PostAsync($"/api/users/{user}/tools/search_archive", Json("""{"query":"time to check"}""")));
        Assert.Matches(UtcMilliseconds(), (string)tool["result"]!["results"]![0]!["createdAt"]!);
    }
}
