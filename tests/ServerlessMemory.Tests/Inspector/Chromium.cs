using System.Text.Json;
using Microsoft.Playwright;

namespace ServerlessMemory.Tests.Inspector;

/// <summary>
/// Debian's Chromium (<c>apt-get install chromium</c>) driven by Playwright: the Playwright browser
/// download cannot run here. One browser for every browser test; each test has its own context
/// (its own sessionStorage). Without the browser the tests skip, saying so, except under <c>CI=true</c>,
/// where they fail: CI installs it (.ci/run).
/// </summary>
public sealed class ChromiumFixture : IAsyncLifetime
{
    public const string ExecutablePath = "/usr/bin/chromium";

    private IPlaywright? _playwright;

    public IBrowser Browser { get; private set; } = null!;

    /// <summary>Why the browser tests cannot run here, or null when they can (or must: CI).</summary>
    public static string? Unavailable =>
        File.Exists(ExecutablePath) || Environment.GetEnvironmentVariable("CI") == "true"
            ? null
            : $"Browser tests skipped: {ExecutablePath} is missing (apt-get install chromium; .ci/run installs it).";

    public async Task InitializeAsync()
    {
        if (Unavailable is not null) return;
        if (!File.Exists(ExecutablePath))
            throw new InvalidOperationException($"{ExecutablePath} is missing and CI=true: .ci/run should have installed Debian's chromium.");
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = ExecutablePath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
    }

    public async Task DisposeAsync()
    {
        if (_playwright is null) return;
        await Browser.CloseAsync();
        _playwright.Dispose();
    }

    /// <summary>A fresh page on <paramref name="baseAddress"/>, watched for dialogs, script errors and the addresses it requests.</summary>
    public async Task<InspectorSession> OpenAsync(Uri baseAddress, string testName)
    {
        var context = await Browser.NewContextAsync(new() { ViewportSize = new() { Width = 1280, Height = 900 }, BaseURL = baseAddress.ToString() });
        context.SetDefaultTimeout(20_000);
        var page = await context.NewPageAsync();
        return new InspectorSession(context, page, testName);
    }
}

[CollectionDefinition(Name)]
public sealed class ChromiumCollection : ICollectionFixture<ChromiumFixture>
{
    public const string Name = "chromium";
}

/// <summary>A browser test: skipped with the reason where Chromium is missing, unless CI=true.</summary>
public sealed class BrowserFactAttribute : FactAttribute
{
    public BrowserFactAttribute()
    {
        if (ChromiumFixture.Unavailable is { } reason) Skip = reason;
    }
}

/// <summary>One test's page: what it saw (dialogs, errors, requests), and a screenshot when the test fails.</summary>
public sealed class InspectorSession : IAsyncDisposable
{
    private static readonly Lazy<string> Axe = new(() =>
    {
        using var stream = typeof(InspectorSession).Assembly.GetManifestResourceStream("axe.min.js")!;
        return new StreamReader(stream).ReadToEnd();
    });

    private readonly IBrowserContext _context;
    private readonly string _testName;

    public InspectorSession(IBrowserContext context, IPage page, string testName)
    {
        _context = context;
        _testName = testName;
        Page = page;
        page.Dialog += (_, dialog) =>
        {
            lock (Dialogs) Dialogs.Add($"{dialog.Type}: {dialog.Message}");
            _ = dialog.DismissAsync();
        };
        page.PageError += (_, error) => { lock (Errors) Errors.Add(error); };
        page.Console += (_, message) =>
        {
            // A 4xx the page handles (a refused key, a conflict) is logged by the browser as a failed load: statuses are
            // checked below instead. Anything else logged as an error is a fault, a CSP refusal included.
            if (message.Type == "error" && !message.Text.StartsWith("Failed to load resource: the server responded with a status of 4", StringComparison.Ordinal))
                lock (Errors) Errors.Add(message.Text);
        };
        page.Response += (_, response) =>
        {
            // Every file of the page exists; a 5xx is never expected.
            if (response.Status >= 500 || response.Status == 404 && response.Url.Contains("/api/inspector/", StringComparison.Ordinal))
                lock (Errors) Errors.Add($"{response.Status} {response.Url}");
        };
        page.Request += (_, request) =>
        {
            lock (Requests) Requests.Add((request.Url, request.Headers.TryGetValue("x-functions-key", out var key) ? key : null));
        };
    }

    public IPage Page { get; }

    public List<string> Dialogs { get; } = [];

    public List<string> Errors { get; } = [];

    public List<(string Url, string? Key)> Requests { get; } = [];

    /// <summary>Runs the test's steps; on failure saves a full-page screenshot into the test output folder and says where.</summary>
    public async Task RunAsync(Func<Task> steps)
    {
        try
        {
            await steps();
        }
        catch (Exception e)
        {
            var path = await ScreenshotAsync($"failed-{_testName}");
            throw new InvalidOperationException($"{e.Message}{Environment.NewLine}Screenshot: {path}", e);
        }
    }

    /// <summary>The page into the test output folder's <c>screenshots</c>: all of it, or down to the end of <paramref name="through"/>.</summary>
    public async Task<string> ScreenshotAsync(string name, string? through = null)
    {
        var folder = Path.Combine(AppContext.BaseDirectory, "screenshots");
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, name + ".png");
        var box = through is null ? null : await Page.Locator(through).BoundingBoxAsync();
        await Page.ScreenshotAsync(new()
        {
            Path = path,
            FullPage = true,
            Clip = box is null ? null : new() { X = 0, Y = 0, Width = Page.ViewportSize!.Width, Height = box.Y + box.Height + 12 },
        });
        return path;
    }

    /// <summary>axe-core's serious and critical violations on the page as it is now (id, impact, help, where).</summary>
    public async Task<IReadOnlyList<string>> AccessibilityViolationsAsync()
    {
        // Evaluated through the DevTools protocol, which the page's CSP does not govern (a script tag would be refused).
        if (!await Page.EvaluateAsync<bool>("() => typeof window.axe === 'object'"))
            await Page.EvaluateAsync(";" + Axe.Value + "\n;undefined");
        var violations = await Page.EvaluateAsync<JsonElement>("""
            async () => (await axe.run(document, { resultTypes: ['violations'] })).violations
              .filter(v => v.impact === 'serious' || v.impact === 'critical')
              .map(v => `${v.impact} ${v.id}: ${v.help} at ${v.nodes.map(n => n.target.join(' ')).join(', ')}`)
            """);
        return [.. violations.EnumerateArray().Select(v => v.GetString()!)];
    }

    /// <summary>No dialog opened and no script error or refused load (a CSP violation is logged as an error).</summary>
    public void AssertNothingRanOrFailed()
    {
        lock (Dialogs) Assert.True(Dialogs.Count == 0, "dialogs: " + string.Join(" | ", Dialogs));
        lock (Errors) Assert.True(Errors.Count == 0, "errors: " + string.Join(" | ", Errors));
    }

    public async ValueTask DisposeAsync() => await _context.CloseAsync();
}
