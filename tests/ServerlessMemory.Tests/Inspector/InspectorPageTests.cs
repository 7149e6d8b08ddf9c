using System.Net;
using System.Text.RegularExpressions;
using ServerlessMemory.Api;
using ServerlessMemory.Tests.Api;

namespace ServerlessMemory.Tests.Inspector;

/// <summary>The inspector's files as the self-host serves them, and what their source may not do. The browser tests are in <see cref="InspectorBrowserTests"/>.</summary>
public sealed class InspectorPageTests(KeyedService keyed) : IClassFixture<KeyedService>
{
    private readonly HttpClient _http = keyed.Service.Client();

    private static string Folder => Path.Combine(Functions.RepoRoot.Path, "src", "ServerlessMemory.Api", "Inspector");

    [Theory]
    [InlineData("/api/inspector/", "text/html")]
    [InlineData("/api/inspector/app.js", "text/javascript")]
    [InlineData("/api/inspector/user.js", "text/javascript")]
    [InlineData("/api/inspector/inspector.css", "text/css")]
    public async Task Each_file_loads_without_a_key_under_a_strict_policy(string path, string type)
    {
        var response = await _http.GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(type, response.Content.Headers.ContentType?.MediaType);
        AssertStrictHeaders(response);
    }

    internal static void AssertStrictHeaders(HttpResponseMessage response)
    {
        var policy = string.Join(";", response.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("script-src 'self'", policy, StringComparison.Ordinal);
        Assert.Contains("style-src 'self'", policy, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", policy, StringComparison.Ordinal);
        Assert.Contains("default-src 'none'", policy, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe", policy, StringComparison.Ordinal);
        Assert.Equal("nosniff", Assert.Single(response.Headers.GetValues("X-Content-Type-Options")));
    }

    [Fact]
    public async Task The_folder_without_its_slash_redirects_to_the_page()
    {
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = _http.BaseAddress };

        var response = await http.GetAsync("/api/inspector");

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/api/inspector/", response.Headers.Location?.ToString());
    }

    [Theory]
    [InlineData("/api/inspector/nothing.js")]
    [InlineData("/api/inspector/../openapi.json/x")]
    [InlineData("/api/inspector/%2e%2e%2fServerlessMemory.Api.dll")]
    [InlineData("/api/inspector/Inspector/app.js")]
    public async Task A_name_that_is_not_one_of_its_files_is_a_404(string path) =>
        Assert.Equal(HttpStatusCode.NotFound, (await _http.GetAsync(path)).StatusCode);

    [Fact]
    public async Task An_unchanged_file_answers_304_to_its_etag()
    {
        var first = await _http.GetAsync("/api/inspector/app.js");
        using var again = new HttpRequestMessage(HttpMethod.Get, "/api/inspector/app.js");
        again.Headers.IfNoneMatch.Add(first.Headers.ETag!);

        Assert.Equal(HttpStatusCode.NotModified, (await _http.SendAsync(again)).StatusCode);
    }

    [Fact]
    public void Every_file_in_the_folder_is_served_and_nothing_else_is() =>
        Assert.Equal(Directory.GetFiles(Folder).Select(Path.GetFileName).Order(StringComparer.Ordinal),
            InspectorPage.Names.Order(StringComparer.Ordinal));

    [Fact]
    public void No_script_writes_markup_and_the_page_has_no_inline_script_or_style()
    {
        var problems = new List<string>();
        foreach (var file in Directory.GetFiles(Folder))
        {
            var text = File.ReadAllText(file);
            foreach (var sink in new[] { "innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "setAttribute('style'", ".style." })
                if (file.EndsWith(".js", StringComparison.Ordinal) && text.Contains(sink, StringComparison.Ordinal) && !AllowedMention(text, sink))
                    problems.Add($"{Path.GetFileName(file)} uses {sink}");
            if (file.EndsWith(".html", StringComparison.Ordinal))
            {
                if (Regex.IsMatch(text, @"<script(?![^>]*\bsrc=)[^>]*>", RegexOptions.IgnoreCase)) problems.Add("index.html has an inline script");
                if (Regex.IsMatch(text, @"\sstyle=|<style", RegexOptions.IgnoreCase)) problems.Add("index.html has an inline style");
                if (Regex.IsMatch(text, @"\son[a-z]+=", RegexOptions.IgnoreCase)) problems.Add("index.html has an inline event handler");
                if (Regex.IsMatch(text, @"(src|href)=""(https?:)?//", RegexOptions.IgnoreCase)) problems.Add("index.html loads from another origin");
            }
        }
        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
    }

    // dom.js names the sinks it refuses: a mention in its list of forbidden names is no use of them.
    private static bool AllowedMention(string text, string sink) =>
        Regex.Matches(text, Regex.Escape(sink)).All(m => text.LastIndexOf("new Set([", m.Index, StringComparison.Ordinal) is var at && at >= 0 && text.IndexOf("])", at, StringComparison.Ordinal) > m.Index);
}

/// <summary>What the API added for the inspector: the decay settings in health, a session's summary beside its messages.</summary>
public sealed class InspectorApiTests(InspectorService service) : IClassFixture<InspectorService>
{
    private readonly HttpClient _http = service.Service.Client();

    [Fact]
    public async Task Health_gives_the_decay_threshold_and_each_types_rate()
    {
        var decay = (await HttpAssert.Ok(await _http.GetAsync("/api/health")))["decay"]!;

        Assert.Equal(0.01, (double)decay["threshold"]!);
        Assert.Equal([0.0, 0.01, 0.05, 0.1, 0.3], ServerlessMemory.Core.MemoryTypes.Names.Select(n => (double)decay["rates"]![n]!));
        Assert.Equal((0.02, 0.2), ((double)decay["accessBonusPerAccess"]!, (double)decay["accessBonusMax"]!));
    }

    [Fact]
    public async Task A_sessions_first_page_of_messages_carries_its_summary_and_no_other_page_does()
    {
        var user = InspectorBrowserTests.NewUser();
        var store = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<ServerlessMemory.Core.IMemoryStore>(service.Service.Services);
        var now = DateTimeOffset.UtcNow;
        await store.CommitAsync(user, new ServerlessMemory.Core.MemoryChangeSet
        {
            Messages = [new("m1", "trip", "t1", "user", "周末想去杭州", now.AddMinutes(-2)), new("m2", "trip", "t1", "assistant", "好的", now.AddMinutes(-1))],
            Session = new("trip", "They planned a weekend trip.", now.AddMinutes(-3), null),
        });

        var first = await HttpAssert.Ok(await _http.GetAsync($"/api/users/{user}/messages?sessionId=trip&limit=1"));
        var second = await HttpAssert.Ok(await _http.GetAsync($"/api/users/{user}/messages?sessionId=trip&limit=1&continuationToken={Uri.EscapeDataString((string)first["continuationToken"]!)}"));
        var everySession = await HttpAssert.Ok(await _http.GetAsync($"/api/users/{user}/messages"));
        var other = await HttpAssert.Ok(await _http.GetAsync($"/api/users/{user}/messages?sessionId=default"));

        Assert.Equal("They planned a weekend trip.", (string?)first["summary"]);
        Assert.Equal("好的", (string?)first["items"]![0]!["content"]);
        Assert.Equal("周末想去杭州", (string?)second["items"]![0]!["content"]);
        Assert.Null(second["summary"]);
        Assert.Null(everySession["summary"]);
        Assert.Null(other["summary"]);
    }
}

/// <summary><c>GET /api/admin/users</c>: the admin key only; a user key never lists users.</summary>
public sealed class AdminUsersApiTests(KeyedService keyed) : IClassFixture<KeyedService>
{
    [Fact]
    public async Task Only_the_admin_key_lists_users_by_prefix_page_by_page()
    {
        var prefix = "au-" + Guid.NewGuid().ToString("N")[..8] + "-";
        var user = keyed.Service.Client("user-key");
        foreach (var id in new[] { "b", "a", "c" })
            await HttpAssert.Ok(await user.PostAsync($"/api/users/{prefix}{id}/memory/archive", HttpAssert.Json("""{"content":"用户名叫小明","type":"identity"}""")), 201);

        await HttpAssert.Problem(await user.GetAsync($"/api/admin/users?prefix={prefix}"), 401);
        await HttpAssert.Problem(await keyed.Service.Client().GetAsync($"/api/admin/users?prefix={prefix}"), 401);
        var admin = keyed.Service.Client("admin-key");
        var first = await HttpAssert.Ok(await admin.GetAsync($"/api/admin/users?prefix={prefix}&limit=2"));
        var second = await HttpAssert.Ok(await admin.GetAsync($"/api/admin/users?prefix={prefix}&limit=2&continuationToken={Uri.EscapeDataString((string)first["continuationToken"]!)}"));

        Assert.Equal([prefix + "a", prefix + "b"], first["items"]!.AsArray().Select(u => (string)u!["userId"]!));
        Assert.Equal(1, (int)first["items"]![0]!["archiveItems"]!);
        Assert.Equal([prefix + "c"], second["items"]!.AsArray().Select(u => (string)u!["userId"]!));
        Assert.Null(second["continuationToken"]);
        await HttpAssert.Problem(await admin.GetAsync("/api/admin/users?prefix=a%20b"), 400);
        await HttpAssert.Problem(await admin.GetAsync("/api/admin/users?limit=0"), 400);
    }
}
