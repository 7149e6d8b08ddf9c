using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using ServerlessMemory.Tests.Api;
using ServerlessMemory.Tests.Functions;
using ServerlessMemory.Tests.Functions.Host;
using static Microsoft.Playwright.Assertions;
using static ServerlessMemory.Tests.Api.HttpAssert;
using static ServerlessMemory.Tests.Inspector.InspectorBrowserTests;

namespace ServerlessMemory.Tests.Inspector;

/// <summary>The self-host with keys, on the real clock.</summary>
public sealed class KeyedInspectorService : IDisposable
{
    public KeyedInspectorService()
    {
        Service.Settings["Auth:ApiKey"] = "user-key-5f1c";
        Service.Settings["Auth:AdminKey"] = "admin-key-9b2e";
        Service.TestServices = services => services.AddSingleton(TimeProvider.System);
    }

    public ServiceFactory Service { get; } = new();

    public void Dispose() => Service.Dispose();
}

/// <summary>Signing in: a key typed once, kept in the tab, sent in the header only; the admin key for what only it may do.</summary>
[Collection(ChromiumCollection.Name)]
public sealed class InspectorKeyTests(ChromiumFixture chromium, KeyedInspectorService keyed) : IClassFixture<KeyedInspectorService>
{
    private const string UserKey = "user-key-5f1c";
    private const string AdminKey = "admin-key-9b2e";

    [BrowserFact]
    public async Task Keys_are_required_when_set_and_travel_only_in_the_header()
    {
        var http = keyed.Service.Client(UserKey);
        var user = NewUser();
        await Add(http, user, "用户名叫小明", "identity", 1.0);
        var due = await Add(http, user, "用户昨天吃了面条", "trivial", 0.1);
        await using var s = await chromium.OpenAsync(http.BaseAddress!, nameof(Keys_are_required_when_set_and_travel_only_in_the_header));

        await s.RunAsync(async () =>
        {
            await s.Page.GotoAsync("/api/inspector/");
            await Expect(s.Page.GetByRole(AriaRole.Heading, new() { Name = "Sign in" })).ToBeVisibleAsync();
            await Expect(s.Page.Locator("#app")).ToBeHiddenAsync();
            var signIn = await s.AccessibilityViolationsAsync();
            Assert.True(signIn.Count == 0, string.Join(Environment.NewLine, signIn));

            await s.Page.GetByLabel("Key").FillAsync("not-a-key");
            await s.Page.GetByLabel("Key").PressAsync("Enter");
            await Expect(s.Page.Locator("#error")).ToHaveTextAsync("That key was not accepted.");
            await Expect(s.Page.Locator("#app")).ToBeHiddenAsync();

            await s.Page.GetByLabel("Key").FillAsync(UserKey);
            await s.Page.GetByLabel("Key").PressAsync("Enter");
            await Expect(s.Page.Locator("#who")).ToHaveTextAsync("Signed in with a key.");
            Assert.Equal(UserKey, await s.Page.EvaluateAsync<string>("() => sessionStorage.getItem('serverless-memory.key')"));
            await OpenUser(s.Page, user);
            await Expect(s.Page.Locator("#archive").GetByText("用户名叫小明", new() { Exact = true })).ToBeVisibleAsync();

            // The user key never lists users, nor runs the sweep: the page says so, and the API refused both.
            await s.Page.GetByLabel("Find users whose id starts with").FillAsync("insp-");
            await s.Page.GetByRole(AriaRole.Button, new() { Name = "List users" }).ClickAsync();
            await Expect(s.Page.Locator("#error")).ToHaveTextAsync("This needs the admin key: sign out and sign in with it.");
            await Expect(s.Page.Locator("#user-list li")).ToHaveCountAsync(0);

            await s.Page.GetByRole(AriaRole.Button, new() { Name = "Run the sweep now" }).ClickAsync();
            await Expect(s.Page.Locator("#error")).ToHaveTextAsync("This needs the admin key: sign out and sign in with it.");
            await Expect(s.Page.Locator("#app")).ToBeVisibleAsync();

            // A reload keeps the key for this tab: nothing to type again.
            await s.Page.ReloadAsync();
            await Expect(s.Page.Locator("#who")).ToHaveTextAsync("Signed in with a key.");

            await s.Page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
            await Expect(s.Page.GetByRole(AriaRole.Heading, new() { Name = "Sign in" })).ToBeVisibleAsync();
            Assert.Null(await s.Page.EvaluateAsync<string?>("() => sessionStorage.getItem('serverless-memory.key')"));

            await s.Page.GetByLabel("Key").FillAsync(AdminKey);
            await s.Page.GetByLabel("Key").PressAsync("Enter");
            await Expect(s.Page.Locator("#app")).ToBeVisibleAsync();
            await s.Page.GetByLabel("Find users whose id starts with").FillAsync(user[..8]);
            await s.Page.GetByRole(AriaRole.Button, new() { Name = "List users" }).ClickAsync();
            var listed = s.Page.Locator("#user-list li").Filter(new() { HasText = user });
            await Expect(listed).ToContainTextAsync("2 memories");
            await listed.GetByRole(AriaRole.Button, new() { Name = user }).ClickAsync();
            await Expect(s.Page.Locator("#status")).ToHaveTextAsync($"Opened {user}.");

            // The memory is due in three days' time: the sweep forgets it when the clock says so.
            await Backdate(user, due);
            await s.Page.GetByRole(AriaRole.Button, new() { Name = "Run the sweep now" }).ClickAsync();
            await Expect(s.Page.Locator("#sweep-result")).ToContainTextAsync("forgot 1 memories");
            await Expect(s.Page.Locator("#sweep-result")).ToContainTextAsync(new System.Text.RegularExpressions.Regex(@"^Scanned \d+, forgot 1 memories of 1 users, in \d+ ms\.$"));

            lock (s.Requests)
            {
                Assert.DoesNotContain(s.Requests, r => r.Url.Contains(UserKey, StringComparison.Ordinal) || r.Url.Contains(AdminKey, StringComparison.Ordinal) || r.Url.Contains("code=", StringComparison.Ordinal));
                Assert.Contains(s.Requests, r => r.Url.Contains("/api/admin/decay", StringComparison.Ordinal) && r.Key == AdminKey);
                Assert.Contains(s.Requests, r => r.Url.Contains("/api/admin/users", StringComparison.Ordinal) && r.Key == UserKey);
                Assert.All(s.Requests.Where(r => r.Url.Contains("/api/inspector/", StringComparison.Ordinal)), r => Assert.Null(r.Key));
            }
            s.AssertNothingRanOrFailed();
        });
        Assert.DoesNotContain(UserKey, keyed.Service.Logs.ToString(), StringComparison.Ordinal);
    }

    /// <summary>Makes a stored memory three days old, as if added then, so that it is due.</summary>
    private async Task Backdate(string user, string id)
    {
        var store = keyed.Service.Services.GetRequiredService<ServerlessMemory.Core.IMemoryStore>();
        var item = (await store.GetArchiveItemAsync(user, id))!;
        var then = DateTimeOffset.UtcNow.AddDays(-3);
        await store.CommitAsync(user, new ServerlessMemory.Core.MemoryChangeSet { ArchiveDeletes = [id] });
        await store.CommitAsync(user, new ServerlessMemory.Core.MemoryChangeSet { ArchiveAdds = [item with { CreatedAt = then, LastAccessedAt = then, ForgetAt = then.AddHours(8) }] });
    }
}

/// <summary>The inspector through the Functions app under its test host, with the host checking keys.</summary>
[Collection(ChromiumCollection.Name)]
public sealed class InspectorFunctionsTests(ChromiumFixture chromium, KeyedFunctionsAppFixture app) : IClassFixture<KeyedFunctionsAppFixture>
{
    [Fact]
    public async Task The_functions_app_serves_the_page_without_a_key_under_the_same_policy()
    {
        var response = await app.Client().GetAsync("/api/inspector/");

        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        InspectorPageTests.AssertStrictHeaders(response);
        Assert.Equal("text/javascript", (await app.Client().GetAsync("/api/inspector/app.js")).Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task The_functions_app_lists_users_to_the_master_key_only()
    {
        var user = NewUser();
        await Add(app.Client("function-key"), user, "用户名叫小明", "identity", 1.0);

        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, (await app.Client("function-key").GetAsync($"/api/admin/users?prefix={user}")).StatusCode);
        var listed = await Ok(await app.Client("master-key").GetAsync($"/api/admin/users?prefix={user}"));
        Assert.Equal([user], listed["items"]!.AsArray().Select(u => (string)u!["userId"]!));
    }

    [BrowserFact]
    public async Task Signed_in_with_the_function_key_the_page_shows_and_searches_a_users_memory()
    {
        var http = app.Client("function-key");
        var user = NewUser();
        foreach (var (content, type, importance) in WorkedExample) await Add(http, user, content, type, importance);
        await using var s = await chromium.OpenAsync(app.Host.BaseAddress, nameof(Signed_in_with_the_function_key_the_page_shows_and_searches_a_users_memory));

        await s.RunAsync(async () =>
        {
            await s.Page.GotoAsync("/api/inspector/");
            await s.Page.GetByLabel("Key").FillAsync("function-key");
            await s.Page.GetByLabel("Key").PressAsync("Enter");
            await OpenUser(s.Page, user);
            await Expect(s.Page.Locator("#archive li.memory")).ToHaveCountAsync(5);
            await Expect(Chart(s.Page, "用户今天喝了一杯咖啡")).ToHaveAttributeAsync("aria-label", new System.Text.RegularExpressions.Regex("falling to the threshold 0.01 in 7.7 hours"));
            await s.Page.GetByLabel("Search for").FillAsync("客户流失预测");
            await s.Page.GetByRole(AriaRole.Button, new() { Name = "Search", Exact = true }).ClickAsync();
            await Expect(s.Page.Locator("#search li.memory").First.Locator(".content")).ToHaveTextAsync("当前项目是客户流失预测");
            await Expect(s.Page.Locator("#search table.score th")).ToHaveTextAsync(["relevance", "decay", "access bonus", "total"]);

            // The host answers the function key's sweep with a bare 401: the page says what is needed.
            await s.Page.GetByRole(AriaRole.Button, new() { Name = "Run the sweep now" }).ClickAsync();
            await Expect(s.Page.Locator("#error")).ToHaveTextAsync("This needs the admin key: sign out and sign in with it.");
            s.AssertNothingRanOrFailed();
        });
    }
}
