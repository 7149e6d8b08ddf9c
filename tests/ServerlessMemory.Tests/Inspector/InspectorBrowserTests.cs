using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using ServerlessMemory.Core;
using ServerlessMemory.Tests.Api;
using static Microsoft.Playwright.Assertions;
using static ServerlessMemory.Tests.Api.HttpAssert;

namespace ServerlessMemory.Tests.Inspector;

/// <summary>The self-host on the real clock (the page draws strength against the browser's own).</summary>
public sealed class InspectorService : IDisposable
{
    public InspectorService()
    {
        Service.TestServices = services => services.AddSingleton(TimeProvider.System);
    }

    public ServiceFactory Service { get; } = new();

    public Uri BaseAddress => Service.Client().BaseAddress!;

    public void Dispose() => Service.Dispose();
}

/// <summary>The inspector in Chromium against the self-host with no keys (loopback): what a user sees and does.</summary>
[Collection(ChromiumCollection.Name)]
public sealed class InspectorBrowserTests(ChromiumFixture chromium, InspectorService service) : IClassFixture<InspectorService>
{
    private readonly HttpClient _http = service.Service.Client();

    internal static readonly (string Content, string Type, double Importance)[] WorkedExample =
    [
        ("用户名叫小明", "identity", 1.0),
        ("用户偏好简洁的回答", "preference", 0.8),
        ("当前项目是客户流失预测", "fact", 0.6),
        ("上次对话提到了周末计划", "context", 0.3),
        ("用户今天喝了一杯咖啡", "trivial", 0.1),
    ];

    [BrowserFact]
    public async Task Memories_added_through_the_api_appear_with_their_strength_until_forgotten()
    {
        var user = NewUser();
        foreach (var (content, type, importance) in WorkedExample) await Add(_http, user, content, type, importance);
        await Put(user, "human", "小明, a data scientist who likes Python");
        await using var s = await chromium.OpenAsync(service.BaseAddress, nameof(Memories_added_through_the_api_appear_with_their_strength_until_forgotten));

        await s.RunAsync(async () =>
        {
            await OpenUser(s.Page, user);

            var memories = s.Page.Locator("#archive li.memory");
            await Expect(memories).ToHaveCountAsync(5);
            foreach (var (content, _, _) in WorkedExample)
                await Expect(s.Page.Locator("#archive").GetByText(content, new() { Exact = true })).ToBeVisibleAsync();
            await Expect(Chart(s.Page, "用户名叫小明")).ToHaveAttributeAsync("aria-label", new System.Text.RegularExpressions.Regex("^Strength 1.000, never forgotten"));
            // ln(0.1 / 0.01) / 0.3 = 7.7 hours for the coffee; 34 hours for the weekend plan.
            await Expect(Chart(s.Page, "用户今天喝了一杯咖啡")).ToHaveAttributeAsync("aria-label", new System.Text.RegularExpressions.Regex("^Strength 0.100 now, falling to the threshold 0.01 in 7.7 hours"));
            await Expect(Chart(s.Page, "上次对话提到了周末计划")).ToHaveAttributeAsync("aria-label", new System.Text.RegularExpressions.Regex("falling to the threshold 0.01 in 34 hours"));
            await Expect(s.Page.Locator("#core meter")).ToHaveCountAsync(5);
            await Expect(s.Page.GetByLabel("Value of human")).ToHaveValueAsync("小明, a data scientist who likes Python");
            await Expect(s.Page.Locator("#core .block").Filter(new() { HasText = "human" })).ToContainTextAsync("37 of 2000 characters");
            s.AssertNothingRanOrFailed();
            await s.ScreenshotAsync("inspector-user", through: "#archive");
        });
    }

    [BrowserFact]
    public async Task A_search_shows_relevance_decay_access_bonus_and_total_as_the_api_gives_them()
    {
        var user = NewUser();
        foreach (var (content, type, importance) in WorkedExample) await Add(_http, user, content, type, importance);
        await using var s = await chromium.OpenAsync(service.BaseAddress, nameof(A_search_shows_relevance_decay_access_bonus_and_total_as_the_api_gives_them));

        await s.RunAsync(async () =>
        {
            await OpenUser(s.Page, user);
            await s.Page.GetByLabel("Search for").FillAsync("客户流失预测项目");
            await s.Page.GetByRole(AriaRole.Button, new() { Name = "Search", Exact = true }).ClickAsync();

            var first = s.Page.Locator("#search li.memory").First;
            await Expect(first.Locator(".content")).ToHaveTextAsync("当前项目是客户流失预测");
            await Expect(first.Locator("table.score th")).ToHaveTextAsync(["relevance", "decay", "access bonus", "total"]);
            var shown = (await first.Locator("table.score td").AllTextContentsAsync()).Select(t => double.Parse(t, CultureInfo.InvariantCulture)).ToArray();
            var api = (await Ok(await _http.GetAsync($"/api/users/{user}/memory/archive?query={Uri.EscapeDataString("客户流失预测项目")}&top=1")))["items"]![0]!["score"]!;
            Assert.Equal((double)api["relevance"]!, shown[0], 3);
            Assert.Equal((double)api["decay"]!, shown[1], 3);
            // The page's search counted one access, so the bonus and total it showed are the API's before this second search.
            Assert.Equal(0.4 * shown[0] + 0.4 * 0.6 * shown[1] + 0.2 * shown[2], shown[3], 2);
            await Expect(s.Page.Locator("#status")).ToHaveTextAsync(new System.Text.RegularExpressions.Regex(@"^1 result for the search\.$"));
            s.AssertNothingRanOrFailed();
        });
    }

    [BrowserFact]
    public async Task A_block_edit_lands_and_a_concurrent_edit_shows_a_conflict_with_both_versions_and_nothing_lost()
    {
        var user = NewUser();
        await using var s = await chromium.OpenAsync(service.BaseAddress, nameof(A_block_edit_lands_and_a_concurrent_edit_shows_a_conflict_with_both_versions_and_nothing_lost));

        await s.RunAsync(async () =>
        {
            await OpenUser(s.Page, user);
            var human = s.Page.GetByLabel("Value of human");
            await human.FillAsync("小明, a data scientist");
            await s.Page.GetByRole(AriaRole.Button, new() { Name = "Save human" }).ClickAsync();
            await Expect(s.Page.Locator("#status")).ToHaveTextAsync("Saved human.");
            Assert.Equal("小明, a data scientist", await Block(user, "human"));

            // Someone else writes the block meanwhile; the page still holds the version it loaded.
            await Put(user, "human", "小明, who now prefers R");
            await human.FillAsync("小明, a data scientist who likes Python");
            await s.Page.GetByRole(AriaRole.Button, new() { Name = "Save human" }).ClickAsync();

            var conflict = s.Page.Locator("#core .conflict:not([hidden])");
            await Expect(conflict).ToBeVisibleAsync();
            await Expect(conflict).ToContainTextAsync("Not saved: this block changed since you loaded it.");
            await Expect(conflict.Locator("pre.mine")).ToHaveTextAsync("小明, a data scientist who likes Python");
            await Expect(conflict.Locator("pre.theirs")).ToHaveTextAsync("小明, who now prefers R");
            Assert.Equal("小明, who now prefers R", await Block(user, "human"));
            await s.ScreenshotAsync("inspector-conflict", through: "#core");

            await conflict.GetByRole(AriaRole.Button, new() { Name = "Save my version over it" }).ClickAsync();
            await Expect(conflict).ToBeHiddenAsync();
            Assert.Equal("小明, a data scientist who likes Python", await Block(user, "human"));

            // A change to another block is no conflict for this one: the save lands, and the other change stays.
            await Put(user, "key_facts", "works on churn prediction");
            await s.Page.GetByLabel("Value of preferences").FillAsync("concise answers");
            await s.Page.GetByRole(AriaRole.Button, new() { Name = "Save preferences" }).ClickAsync();
            await Expect(s.Page.Locator("#status")).ToHaveTextAsync("Saved preferences.");
            Assert.Equal("concise answers", await Block(user, "preferences"));
            Assert.Equal("works on churn prediction", await Block(user, "key_facts"));
            s.AssertNothingRanOrFailed();
        });
    }

    [BrowserFact]
    public async Task A_delete_and_an_erase_take_effect()
    {
        var user = NewUser();
        var coffee = await Add(_http, user, "用户今天喝了一杯咖啡", "trivial", 0.1);
        await Add(_http, user, "用户名叫小明", "identity", 1.0);
        await Put(user, "human", "小明");
        await using var s = await chromium.OpenAsync(service.BaseAddress, nameof(A_delete_and_an_erase_take_effect));

        await s.RunAsync(async () =>
        {
            await OpenUser(s.Page, user);
            var card = s.Page.Locator("#archive li.memory").Filter(new() { HasText = "用户今天喝了一杯咖啡" });
            await card.GetByRole(AriaRole.Button, new() { Name = "Delete" }).ClickAsync();
            await card.GetByRole(AriaRole.Button, new() { Name = "Confirm delete" }).ClickAsync();

            await Expect(s.Page.Locator("#status")).ToHaveTextAsync("Deleted the memory.");
            await Expect(card).ToHaveCountAsync(0);
            Assert.Equal(HttpStatusCode.NotFound, (await _http.GetAsync($"/api/users/{user}/memory/archive/{coffee}")).StatusCode);
            await Expect(s.Page.Locator("#archive li.memory")).ToHaveCountAsync(1);

            var erase = s.Page.GetByRole(AriaRole.Button, new() { Name = "Erase this user" });
            await Expect(erase).ToBeDisabledAsync();
            await s.Page.GetByLabel("Type the user id").FillAsync(user + "x");
            await Expect(erase).ToBeDisabledAsync();
            await s.Page.GetByLabel("Type the user id").FillAsync(user);
            await erase.ClickAsync();

            await Expect(s.Page.Locator("#status")).ToHaveTextAsync($"Erased {user}: core memory, archive and messages are gone.");
            await Expect(s.Page.Locator("#archive li.memory")).ToHaveCountAsync(0);
            Assert.Empty((await Ok(await _http.GetAsync($"/api/users/{user}/memory/archive")))["items"]!.AsArray());
            Assert.Equal("", await Block(user, "human"));
            s.AssertNothingRanOrFailed();
        });
    }

    [BrowserFact]
    public async Task Memory_that_looks_like_html_shows_as_text_and_runs_nothing()
    {
        var user = NewUser();
        string[] payloads = ["<img src=x onerror=alert(1)>", "<script>alert(2)</script>", "<svg onload=alert(3)></svg>"];
        foreach (var p in payloads) await Add(_http, user, p, "fact", 0.9);
        await Put(user, "human", "<img src=x onerror=alert(4)>");
        await using var s = await chromium.OpenAsync(service.BaseAddress, nameof(Memory_that_looks_like_html_shows_as_text_and_runs_nothing));

        await s.RunAsync(async () =>
        {
            await OpenUser(s.Page, user);
            foreach (var p in payloads)
                await Expect(s.Page.Locator("#archive").GetByText(p, new() { Exact = true })).ToBeVisibleAsync();
            await Expect(s.Page.GetByLabel("Value of human")).ToHaveValueAsync("<img src=x onerror=alert(4)>");
            await s.Page.GetByLabel("Search for").FillAsync("img src onerror alert");
            await s.Page.GetByRole(AriaRole.Button, new() { Name = "Search", Exact = true }).ClickAsync();
            await Expect(s.Page.Locator("#search").GetByText(payloads[0], new() { Exact = true })).ToBeVisibleAsync();
            await s.Page.WaitForTimeoutAsync(300); // an onerror or onload would have fired by now

            Assert.Equal(0, await s.Page.Locator("#user img, #user script, #user svg:not(.strength)").CountAsync());
            s.AssertNothingRanOrFailed();
            await s.ScreenshotAsync("inspector-xss", through: "#search");
        });
    }

    [BrowserFact]
    public async Task Superseded_memories_sessions_and_what_the_model_would_see_are_shown()
    {
        var user = NewUser();
        var old = await Add(_http, user, "当前项目是客户流失预测", "fact", 0.6);
        var replacement = await Add(_http, user, "当前项目是推荐系统", "fact", 0.7);
        var store = service.Service.Services.GetRequiredService<IMemoryStore>();
        var now = DateTimeOffset.UtcNow;
        await store.CommitAsync(user, new MemoryChangeSet { ArchiveSupersessions = [new(old, now, replacement)] });
        await store.CommitAsync(user, new MemoryChangeSet
        {
            Messages =
            [
                new("m1", "trip", "t1", "user", "周末想去杭州", now.AddMinutes(-2)),
                new("m2", "trip", "t1", "assistant", "<b>杭州</b> sounds good", now.AddMinutes(-1)),
            ],
            Session = new SessionState("trip", "They talked about a weekend trip.", now.AddMinutes(-3), null),
        });
        await using var s = await chromium.OpenAsync(service.BaseAddress, nameof(Superseded_memories_sessions_and_what_the_model_would_see_are_shown));

        await s.RunAsync(async () =>
        {
            await OpenUser(s.Page, user);
            var superseded = s.Page.Locator("#archive li.memory.superseded");
            await Expect(superseded).ToHaveCountAsync(1);
            await Expect(superseded.Locator(".content")).ToHaveTextAsync("当前项目是客户流失预测");
            await Expect(superseded.Locator("q")).ToHaveTextAsync("当前项目是推荐系统");
            await Expect(superseded).ToContainTextAsync(now.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));

            await s.Page.GetByText("Session trip").ClickAsync();
            await Expect(s.Page.Locator(".summary")).ToContainTextAsync("They talked about a weekend trip.");
            await Expect(s.Page.Locator("ol.messages li")).ToHaveCountAsync(2);
            await Expect(s.Page.Locator("ol.messages").GetByText("<b>杭州</b> sounds good", new() { Exact = true })).ToBeVisibleAsync();

            await s.Page.GetByLabel("A message, as the user would send it").FillAsync("我当前的项目是什么？");
            await s.Page.GetByRole(AriaRole.Button, new() { Name = "Show the prompt's memory" }).ClickAsync();
            var prompt = s.Page.Locator("pre.prompt");
            await Expect(prompt).ToContainTextAsync("当前项目是推荐系统");
            await Expect(s.Page.Locator("#context ol.recalled li")).ToHaveCountAsync(1);
            s.AssertNothingRanOrFailed();
        });
    }

    [BrowserFact]
    public async Task The_whole_flow_works_from_the_keyboard()
    {
        var user = NewUser();
        var coffee = await Add(_http, user, "用户今天喝了一杯咖啡", "trivial", 0.1);
        await Add(_http, user, "当前项目是客户流失预测", "fact", 0.6);
        await using var s = await chromium.OpenAsync(service.BaseAddress, nameof(The_whole_flow_works_from_the_keyboard));
        var keyboard = s.Page.Keyboard;

        await s.RunAsync(async () =>
        {
            await s.Page.GotoAsync("/api/inspector/");
            await Expect(s.Page.Locator("#app")).ToBeVisibleAsync();
            await TabTo(s.Page, "#user-id");
            await keyboard.TypeAsync(user);
            await keyboard.PressAsync("Enter");
            await Expect(s.Page.Locator("#user-title")).ToBeFocusedAsync();

            var humanId = await s.Page.GetByLabel("Value of human").GetAttributeAsync("id");
            await TabTo(s.Page, $"#{humanId}");
            await keyboard.TypeAsync("typed from the keyboard");
            await keyboard.PressAsync("Tab");
            await keyboard.PressAsync("Enter");
            await Expect(s.Page.Locator("#status")).ToHaveTextAsync("Saved human.");
            Assert.Equal("typed from the keyboard", await Block(user, "human"));

            await TabTo(s.Page, $"#archive li.memory[data-memory='{coffee}'] button:not([hidden])");
            await keyboard.PressAsync("Enter");
            await Expect(s.Page.GetByRole(AriaRole.Button, new() { Name = "Confirm delete" })).ToBeFocusedAsync();
            await keyboard.PressAsync("Enter");
            await Expect(s.Page.Locator("#status")).ToHaveTextAsync("Deleted the memory.");
            Assert.Equal(HttpStatusCode.NotFound, (await _http.GetAsync($"/api/users/{user}/memory/archive/{coffee}")).StatusCode);

            await TabTo(s.Page, "#search input[type=search]");
            await keyboard.TypeAsync("客户流失预测");
            await keyboard.PressAsync("Enter");
            await Expect(s.Page.Locator("#search table.score")).ToHaveCountAsync(1);

            await TabTo(s.Page, "#erase input");
            await keyboard.TypeAsync(user);
            await keyboard.PressAsync("Tab");
            await keyboard.PressAsync("Enter");
            await Expect(s.Page.Locator("#status")).ToHaveTextAsync($"Erased {user}: core memory, archive and messages are gone.");
            Assert.Empty((await Ok(await _http.GetAsync($"/api/users/{user}/memory/archive")))["items"]!.AsArray());
            s.AssertNothingRanOrFailed();
        });
    }

    [BrowserFact]
    public async Task Axe_finds_no_serious_or_critical_violation_on_any_view()
    {
        var user = NewUser();
        foreach (var (content, type, importance) in WorkedExample) await Add(_http, user, content, type, importance);
        await using var s = await chromium.OpenAsync(service.BaseAddress, nameof(Axe_finds_no_serious_or_critical_violation_on_any_view));
        var found = new List<string>();
        async Task Check(string view) => found.AddRange((await s.AccessibilityViolationsAsync()).Select(v => $"{view}: {v}"));

        await s.RunAsync(async () =>
        {
            await s.Page.GotoAsync("/api/inspector/");
            await Expect(s.Page.Locator("#app")).ToBeVisibleAsync();
            await Check("start");
            await OpenUser(s.Page, user);
            await Check("user");
            await s.Page.GetByLabel("Search for").FillAsync("客户流失预测");
            await s.Page.GetByRole(AriaRole.Button, new() { Name = "Search", Exact = true }).ClickAsync();
            await Expect(s.Page.Locator("#search table.score")).ToHaveCountAsync(1);
            await s.Page.GetByLabel("A message, as the user would send it").FillAsync("我在做什么项目");
            await s.Page.GetByRole(AriaRole.Button, new() { Name = "Show the prompt's memory" }).ClickAsync();
            await Expect(s.Page.Locator("pre.prompt")).ToBeVisibleAsync();
            await s.Page.Locator("#archive li.memory").First.GetByRole(AriaRole.Button, new() { Name = "Delete" }).ClickAsync();
            await Put(user, "human", "changed elsewhere");
            await s.Page.GetByLabel("Value of human").FillAsync("mine");
            await s.Page.GetByRole(AriaRole.Button, new() { Name = "Save human" }).ClickAsync();
            await Expect(s.Page.Locator("#core .conflict:not([hidden])")).ToBeVisibleAsync();
            await Check("search results, context, a delete to confirm and a conflict");
            Assert.True(found.Count == 0, string.Join(Environment.NewLine, found));
        });
    }

    internal static string NewUser() => "insp-" + Guid.NewGuid().ToString("N")[..10];

    internal static async Task<string> Add(HttpClient http, string user, string content, string type, double importance) =>
        (string)(await Ok(await http.PostAsync($"/api/users/{user}/memory/archive",
            Json(new JsonObject { ["content"] = content, ["type"] = type, ["importance"] = importance }.ToJsonString())), 201))["id"]!;

    private async Task Put(string user, string label, string value) =>
        await Ok(await _http.PutAsync($"/api/users/{user}/memory/core/{label}", Json(new JsonObject { ["value"] = value }.ToJsonString())));

    private async Task<string?> Block(string user, string label) =>
        (string?)(await Ok(await _http.GetAsync($"/api/users/{user}/memory/core")))["blocks"]!.AsArray().Single(b => (string?)b!["label"] == label)!["value"];

    internal static ILocator Chart(IPage page, string content) =>
        page.Locator("#archive li.memory").Filter(new() { HasText = content }).Locator("svg.strength");

    internal static async Task OpenUser(IPage page, string user)
    {
        if (!page.Url.Contains("/api/inspector/", StringComparison.Ordinal)) await page.GotoAsync("/api/inspector/");
        await page.GetByLabel("User id").FillAsync(user);
        await page.GetByRole(AriaRole.Button, new() { Name = "Open user" }).ClickAsync();
        await Expect(page.Locator("#status")).ToHaveTextAsync($"Opened {user}.");
    }

    /// <summary>Presses Tab, and only Tab, until the focus is on an element matching <paramref name="selector"/>.</summary>
    internal static async Task TabTo(IPage page, string selector)
    {
        for (var i = 0; i < 200; i++)
        {
            await page.Keyboard.PressAsync("Tab");
            if (await page.EvaluateAsync<bool>("s => document.activeElement?.matches(s) ?? false", selector)) return;
        }
        throw new InvalidOperationException($"Tab never reached {selector}.");
    }
}
