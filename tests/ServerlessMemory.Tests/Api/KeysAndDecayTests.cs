using System.Net;
using System.Text.Json.Nodes;
using static ServerlessMemory.Tests.Api.HttpAssert;

namespace ServerlessMemory.Tests.Api;

public sealed class KeyedService : IDisposable
{
    public ServiceFactory Service { get; } = new();

    public KeyedService()
    {
        Service.Settings["Auth:ApiKey"] = "user-key";
        Service.Settings["Auth:AdminKey"] = "admin-key";
    }

    public void Dispose() => Service.Dispose();
}

public sealed class KeyTests(KeyedService keyed) : IClassFixture<KeyedService>
{
    private readonly ServiceFactory _service = keyed.Service;

    [Fact]
    public async Task Health_needs_no_key() =>
        await Ok(await _service.Client().GetAsync("/api/health"));

    [Fact]
    public async Task User_routes_need_the_api_key_in_the_header_or_the_code_query()
    {
        await Problem(await _service.Client().GetAsync("/api/users/u1/memory/core"), 401);
        await Problem(await _service.Client("wrong").GetAsync("/api/users/u1/memory/core"), 401);
        await Problem(await _service.Client().PostAsync("/api/users/u1/memory/archive", Json("""{"content":"x"}""")), 401);

        await Ok(await _service.Client("user-key").GetAsync("/api/users/u1/memory/core"));
        await Ok(await _service.Client().GetAsync("/api/users/u1/memory/core?code=user-key"));
        await Ok(await _service.Client("admin-key").GetAsync("/api/tools"));
        Assert.Empty((await Ok(await _service.Client("user-key").GetAsync("/api/users/u1/memory/archive")))["items"]!.AsArray());
    }

    [Fact]
    public async Task Admin_routes_need_the_admin_key()
    {
        await Problem(await _service.Client("user-key").PostAsync("/api/admin/decay", null), 401);
        await Ok(await _service.Client("admin-key").PostAsync("/api/admin/decay", null));
    }
}

public sealed class DecayApiTests : IDisposable
{
    private readonly ServiceFactory _service = new();
    private readonly HttpClient _http;

    public DecayApiTests() => _http = _service.Client();

    private async Task<string> Add(string user, string content, string type, double importance) =>
        (string)(await Ok(await _http.PostAsync($"/api/users/{user}/memory/archive",
            Json(new JsonObject { ["content"] = content, ["type"] = type, ["importance"] = importance }.ToJsonString())), 201))["id"]!;

    private async Task<List<string>> Remaining(string user) =>
        [.. (await Ok(await _http.GetAsync($"/api/users/{user}/memory/archive?limit=100")))["items"]!.AsArray().Select(i => (string)i!["content"]!)];

    private async Task<JsonObject> Sweep() => await Ok(await _http.PostAsync("/api/admin/decay", null));

    [Fact]
    public async Task The_worked_example_forgets_the_coffee_within_a_day_and_never_the_name()
    {
        const string user = "xiaoming";
        await Add(user, "用户名叫小明", "identity", 1.0);
        await Add(user, "用户偏好简洁的回答", "preference", 0.8);
        await Add(user, "当前项目是客户流失预测", "fact", 0.6);
        await Add(user, "上次对话提到了周末计划", "context", 0.3);
        await Add(user, "用户今天喝了一杯咖啡", "trivial", 0.1);

        Assert.Equal(0, (int)(await Sweep())["forgotten"]!);
        _service.Time.Advance(TimeSpan.FromHours(24));
        var day = await Sweep();
        Assert.Equal(1, (int)day["forgotten"]!);
        Assert.Equal(1, (int)day["scanned"]!);
        Assert.Equal(1, (int)day["users"]!);
        Assert.DoesNotContain("用户今天喝了一杯咖啡", await Remaining(user));

        _service.Time.Advance(TimeSpan.FromDays(30));
        await Sweep();
        Assert.Equal(["用户名叫小明"], await Remaining(user));
        _service.Time.Advance(TimeSpan.FromDays(3650));
        await Sweep();
        Assert.Equal(["用户名叫小明"], await Remaining(user));
    }

    [Fact]
    public async Task Trivial_memory_read_once_is_still_forgotten()
    {
        const string user = "reader";
        await Add(user, "had a coffee this morning", "trivial", 0.1);
        _service.Time.Advance(TimeSpan.FromHours(1));
        var read = (await Ok(await _http.GetAsync($"/api/users/{user}/memory/archive?query=coffee")))["items"]!.AsArray();
        Assert.Equal(1, (int)read[0]!["accessCount"]!);

        _service.Time.Advance(TimeSpan.FromDays(2));
        await Sweep();

        Assert.Empty(await Remaining(user));
    }

    [Fact]
    public async Task A_memory_past_its_forgetting_point_is_not_returned_before_the_sweep()
    {
        const string user = "lagging";
        await Add(user, "had a coffee this morning", "trivial", 0.1);
        _service.Time.Advance(TimeSpan.FromHours(12));

        Assert.Empty((await Ok(await _http.GetAsync($"/api/users/{user}/memory/archive?query=coffee")))["items"]!.AsArray());
    }

    [Fact]
    public async Task Recalled_memories_outlive_unread_ones()
    {
        const string user = "recaller";
        await Add(user, "weekend plan: hiking", "context", 0.3);
        await Add(user, "weekend plan: cinema", "context", 0.3);
        for (var i = 0; i < 10; i++)
        {
            _service.Time.Advance(TimeSpan.FromHours(3));
            await _http.GetAsync($"/api/users/{user}/memory/archive?query=hiking&top=1");
        }

        _service.Time.Advance(TimeSpan.FromHours(10));
        await Sweep();

        Assert.Equal(["weekend plan: hiking"], await Remaining(user));
    }

    public void Dispose()
    {
        _http.Dispose();
        _service.Dispose();
    }
}

public sealed class ScheduledSweepTests : IDisposable
{
    private readonly ServiceFactory _service = new();

    [Fact]
    public async Task The_self_host_sweeps_on_its_ncrontab_schedule()
    {
        _service.Settings["Decay:Schedule"] = "0 0 * * * *";
        var http = _service.Client();
        await Ok(await http.PostAsync("/api/users/sched/memory/archive", Json("""{"content":"a passing remark","type":"trivial","importance":0.1}""")), 201);

        for (var hour = 0; hour < 10; hour++)
        {
            _service.Time.Advance(TimeSpan.FromHours(1));
            await Task.Delay(50);
        }

        var deadline = DateTime.UtcNow.AddSeconds(10);
        while ((await Ok(await http.GetAsync("/api/users/sched/memory/archive")))["items"]!.AsArray().Count > 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the scheduled sweep did not run");
            await Task.Delay(50);
        }
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/api/health")).StatusCode);
    }

    public void Dispose() => _service.Dispose();
}

public sealed class PrincipalBindingTests
{
    [Fact]
    public async Task With_principal_binding_a_caller_reaches_only_their_own_memory()
    {
        using var service = new ServiceFactory();
        service.Settings["Auth:RequireUserPrincipal"] = "true";
        var http = service.Client();

        var own = new HttpRequestMessage(HttpMethod.Get, "/api/users/alice/memory/core");
        own.Headers.Add("X-MS-CLIENT-PRINCIPAL-ID", "alice");
        var other = new HttpRequestMessage(HttpMethod.Get, "/api/users/bob/memory/core");
        other.Headers.Add("X-MS-CLIENT-PRINCIPAL-ID", "alice");

        await Ok(await http.SendAsync(own));
        await Problem(await http.SendAsync(other), 403);
        await Problem(await http.GetAsync("/api/users/alice/memory/core"), 403);
        await Ok(await http.GetAsync("/api/health"));
    }

    [Fact]
    public async Task Without_principal_binding_the_header_is_ignored()
    {
        using var service = new ServiceFactory();
        var request = new HttpRequestMessage(HttpMethod.Get, "/api/users/bob/memory/core");
        request.Headers.Add("X-MS-CLIENT-PRINCIPAL-ID", "alice");

        await Ok(await service.Client().SendAsync(request));
    }
}
