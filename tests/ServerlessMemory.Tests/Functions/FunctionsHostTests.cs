using System.Net;
using System.Text.Json.Nodes;
using ServerlessMemory.Api;
using ServerlessMemory.Tests.Functions.Host;
using static ServerlessMemory.Tests.Api.HttpAssert;

namespace ServerlessMemory.Tests.Functions;

/// <summary>
/// The built Functions app run as the Functions host runs it (see <see cref="FunctionsWorkerHost"/>):
/// what only this host shows. The API itself runs against it in <c>FunctionsHostApiTests</c> and
/// <c>FunctionsHostToolsApiTests</c>, the same tests as against the self-host.
/// </summary>
public sealed class FunctionsHostTests(FastDecayFunctionsAppFixture app) : IClassFixture<FastDecayFunctionsAppFixture>
{
    private readonly HttpClient _http = app.Client();

    [Fact]
    public void The_worker_indexes_and_loads_every_function_and_proxies_http_to_its_own_server()
    {
        Assert.Equal(ApiRoutes.All.Select(r => r.Name).Append("DecaySweep").Order(StringComparer.Ordinal),
            app.Host.FunctionNames.Order(StringComparer.Ordinal));
        var httpUri = new Uri(app.Host.WorkerCapabilities["HttpUri"]);
        Assert.True(httpUri.IsLoopback, $"HttpUri {httpUri}");
        Assert.NotEqual(app.Host.BaseAddress.Port, httpUri.Port);
    }

    [Fact]
    public async Task The_decay_sweep_timer_invoked_over_the_protocol_forgets_what_is_due()
    {
        var user = "timer-" + Guid.NewGuid().ToString("N")[..8];
        await Add(user, "用户名叫小明", "identity", 1.0);
        await Add(user, "用户今天喝了一杯咖啡", "trivial", 0.1);
        await Task.Delay(FastDecayFunctionsAppFixture.TrivialLifetime);

        var outcome = await app.Host.InvokeTimerAsync("DecaySweep");

        Assert.True(outcome.Succeeded, $"{outcome.ExceptionType}: {outcome.ExceptionMessage}{Environment.NewLine}{app.Host.Logs}");
        // The timer deleted the due memory: a sweep now finds nothing to forget ...
        Assert.Equal(0, (int)(await Ok(await _http.PostAsync("/api/admin/decay", null)))["forgotten"]!);
        Assert.Equal(["用户名叫小明"], await Remaining(user));
        // ... where it finds a memory due that no timer swept.
        await Add(user, "用户昨天吃了面条", "trivial", 0.1);
        await Task.Delay(FastDecayFunctionsAppFixture.TrivialLifetime);
        Assert.Equal(1, (int)(await Ok(await _http.PostAsync("/api/admin/decay", null)))["forgotten"]!);
    }

    [Fact]
    public async Task Concurrent_requests_each_reach_their_own_invocation()
    {
        var users = Enumerable.Range(0, 16).Select(i => $"conc-{i}-" + Guid.NewGuid().ToString("N")[..6]).ToList();

        var writes = await Task.WhenAll(users.Select(u => _http.PutAsync($"/api/users/{u}/memory/core/human", Json(new JsonObject { ["value"] = $"I am {u}" }.ToJsonString()))));

        Assert.All(writes, w => Assert.Equal(HttpStatusCode.OK, w.StatusCode));
        var reads = await Task.WhenAll(users.Select(async u => (User: u, Core: await Ok(await _http.GetAsync($"/api/users/{u}/memory/core")))));
        Assert.All(reads, r => Assert.Equal($"I am {r.User}",
            (string?)r.Core["blocks"]!.AsArray().Single(b => (string?)b!["label"] == "human")!["value"]));
    }

    [Fact]
    public async Task A_route_the_app_does_not_have_is_a_404_from_the_host() =>
        Assert.Equal(HttpStatusCode.NotFound, (await _http.PostAsync("/api/health", null)).StatusCode);

    /// <summary>Adds a memory; a trivial one of importance 0.1 is due after <see cref="FastDecayFunctionsAppFixture.TrivialLifetime"/>.</summary>
    private async Task Add(string user, string content, string type, double importance) =>
        await Ok(await _http.PostAsync($"/api/users/{user}/memory/archive", Json(new JsonObject
            { ["content"] = content, ["type"] = type, ["importance"] = importance }.ToJsonString())), 201);

    private async Task<List<string>> Remaining(string user) =>
        [.. (await Ok(await _http.GetAsync($"/api/users/{user}/memory/archive?limit=100")))["items"]!.AsArray().Select(i => (string)i!["content"]!)];
}

/// <summary>
/// The Functions app with trivial memories fading in seconds: the worker runs on the real clock, and a
/// memory dated back enters memory now (decay runs from then), so only a fast rate makes one due.
/// </summary>
public sealed class FastDecayFunctionsAppFixture : FunctionsAppFixture
{
    /// <summary>ln(0.1 / 0.01) / 3600 hours, about 2.3 s, for a trivial memory of importance 0.1; with a margin.</summary>
    public static readonly TimeSpan TrivialLifetime = TimeSpan.FromSeconds(3);

    protected override FunctionsWorkerHostOptions Configure(FunctionsWorkerHostOptions options) =>
        options with { Settings = new Dictionary<string, string?>(options.Settings) { ["Decay__Rates__trivial"] = "3600" } };
}

/// <summary>The Functions app with the host checking keys, as it does in Azure.</summary>
public sealed class KeyedFunctionsAppFixture : FunctionsAppFixture
{
    protected override FunctionsWorkerHostOptions Configure(FunctionsWorkerHostOptions options) =>
        options with { FunctionKey = "function-key", MasterKey = "master-key" };
}

/// <summary>
/// Keys are the Functions host's business, not the app's: the host checks each function's
/// <c>authLevel</c> from the worker's metadata before anything reaches the worker, and answers a bare 401.
/// </summary>
public sealed class FunctionsHostKeyTests(KeyedFunctionsAppFixture app) : IClassFixture<KeyedFunctionsAppFixture>
{
    [Fact]
    public async Task Health_is_anonymous() =>
        await Ok(await app.Client().GetAsync("/api/health"));

    [Fact]
    public async Task User_routes_need_the_function_key_or_the_master_key()
    {
        Assert.Equal(HttpStatusCode.Unauthorized, (await app.Client().GetAsync("/api/users/u1/memory/core")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await app.Client("wrong").GetAsync("/api/users/u1/memory/core")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await app.Client().PostAsync("/api/users/u1/memory/archive", Json("""{"content":"x"}"""))).StatusCode);
        Assert.Empty((await Ok(await app.Client("function-key").GetAsync("/api/users/u1/memory/archive")))["items"]!.AsArray());

        await Ok(await app.Client("function-key").GetAsync("/api/users/u1/memory/core"));
        await Ok(await app.Client().GetAsync("/api/users/u1/memory/core?code=function-key"));
        await Ok(await app.Client("master-key").GetAsync("/api/tools"));
    }

    [Fact]
    public async Task Admin_routes_need_the_master_key()
    {
        Assert.Equal(HttpStatusCode.Unauthorized, (await app.Client("function-key").PostAsync("/api/admin/decay", null)).StatusCode);
        await Ok(await app.Client("master-key").PostAsync("/api/admin/decay", null));
    }
}
