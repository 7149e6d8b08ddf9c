using System.Diagnostics;
using System.Net;
using Microsoft.Azure.Cosmos;
using Microsoft.Extensions.DependencyInjection;
using ServerlessMemory.Core;
using ServerlessMemory.Tests.Scripted;
using Xunit.Abstractions;
using static ServerlessMemory.Tests.Api.HttpAssert;

namespace ServerlessMemory.Tests.Api;

/// <summary>A store that stalls or gives up makes a route answer 503 with Retry-After within Memory:Limits:StoreTimeout, having written nothing.</summary>
public sealed class StoreDeadlineTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Answered = TimeSpan.FromSeconds(6); // the 1 s deadline, with room for a loaded machine

    /// <summary>The self-host on a store that stalls the calls a test names.</summary>
    private static (ServiceFactory Service, StallingStore Store) Service(ScriptedModelServer? model = null)
    {
        var service = model is null ? new ServiceFactory() : Chat.ChatRequests.Service(model);
        service.Settings["Memory:Limits:StoreTimeout"] = "00:00:01";
        StallingStore? stalling = null;
        service.TestServices = services =>
        {
            var real = services.Last(d => d.ServiceType == typeof(IMemoryStore));
            services.Add(ServiceDescriptor.Singleton<IMemoryStore>(sp => stalling = new StallingStore((IMemoryStore)real.ImplementationFactory!(sp))));
        };
        _ = service.Client(); // starts the host
        return (service, stalling ?? (StallingStore)service.Services.GetRequiredService<IMemoryStore>());
    }

    private static async Task<(HttpResponseMessage Response, TimeSpan Took)> Timed(Func<Task<HttpResponseMessage>> send)
    {
        var clock = Stopwatch.StartNew();
        var response = await send();
        return (response, clock.Elapsed);
    }

    [Fact]
    public async Task A_stalled_commit_answers_503_with_retry_after_within_the_deadline_and_writes_nothing()
    {
        var (service, store) = Service();
        using var _ = service;
        var http = service.Client();
        store.Stalls = nameof(IMemoryStore.CommitAsync);

        var (add, addTook) = await Timed(() => http.PostAsync("/api/users/u/memory/archive", Json("""{"content":"likes green tea"}""")));
        var (edit, editTook) = await Timed(() => http.PutAsync("/api/users/u/memory/core/human", Json("""{"value":"小明"}""")));

        output.WriteLine($"stalled commit, 1 s deadline: add answered 503 in {addTook.TotalSeconds:F2} s, core edit in {editTook.TotalSeconds:F2} s");
        var problem = await Problem(add, 503);
        await Problem(edit, 503);
        Assert.True(addTook < Answered, $"add took {addTook}");
        Assert.True(editTook < Answered, $"core edit took {editTook}");
        Assert.Equal("5", add.Headers.RetryAfter?.Delta?.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Contains("did not answer within 1 s", (string?)problem["detail"]);
        store.Stalls = null;
        Assert.Empty((await Ok(await http.GetAsync("/api/users/u/memory/archive")))["items"]!.AsArray());
        Assert.DoesNotContain("小明", (await Ok(await http.GetAsync("/api/users/u/memory/core"))).ToJsonString());
        await Ok(await http.PostAsync("/api/users/u/memory/archive", Json("""{"content":"likes green tea"}""")), 201);
    }

    [Fact]
    public async Task A_store_that_ignores_its_cancellation_still_answers_503_in_time()
    {
        var (service, store) = Service();
        using var _ = service;
        var http = service.Client();
        store.Stalls = nameof(IMemoryStore.GetCoreAsync);
        store.IgnoresCancellation = true;

        var (read, took) = await Timed(() => http.GetAsync("/api/users/u/memory/core"));

        output.WriteLine($"store ignoring its token, 1 s deadline: core read answered 503 in {took.TotalSeconds:F2} s");
        await Problem(read, 503);
        Assert.True(took < Answered, $"the read took {took}");
        store.Release();
    }

    [Fact]
    public async Task A_chat_turn_whose_commit_stalls_answers_503_and_stores_nothing_of_the_turn()
    {
        await using var model = await ScriptedModelServer.StartAsync();
        model.Chat = request => Chat.ChatRequests.HasToolResult(request) ? new("Stored.")
            : Chat.ChatRequests.IsExtraction(request) ? new(Chat.ChatRequests.NoExtraction)
            : new(ToolCalls: [("archive_content", """{"content":"the churn project uses XGBoost"}""")]);
        var (service, store) = Service(model);
        using var _ = service;
        var http = service.Client();
        store.Stalls = nameof(IMemoryStore.CommitAsync);

        var (turn, took) = await Timed(() => http.PostAsync("/api/users/u/chat", Json("""{"message":"I use XGBoost for churn"}""")));

        output.WriteLine($"stalled commit, 1 s deadline: chat turn answered 503 in {took.TotalSeconds:F2} s");
        await Problem(turn, 503);
        Assert.True(took < Answered, $"the turn took {took}");
        store.Stalls = null;
        Assert.Empty((await Ok(await http.GetAsync("/api/users/u/messages")))["items"]!.AsArray());
        Assert.Empty((await Ok(await http.GetAsync("/api/users/u/memory/archive")))["items"]!.AsArray());
    }

    [Fact]
    public async Task A_cosmos_account_that_never_answers_makes_a_route_answer_503_within_the_deadline()
    {
        // Accepts connections and never says a word: the SDK's first request (the account read) stalls.
        using var silent = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var held = new System.Collections.Concurrent.ConcurrentBag<System.Net.Sockets.TcpClient>();
        _ = Task.Run(async () =>
        {
            try { while (true) held.Add(await silent.AcceptTcpClientAsync()); }
            catch (Exception e) when (e is ObjectDisposedException or System.Net.Sockets.SocketException) { }
        });
        using var service = new ServiceFactory();
        service.Settings["Memory:Store"] = "Cosmos";
        service.Settings["Cosmos:Endpoint"] = $"https://127.0.0.1:{((IPEndPoint)silent.LocalEndpoint).Port}/";
        service.Settings["Cosmos:Key"] = ServerlessMemory.Cosmos.CosmosStoreOptions.EmulatorKey;
        service.Settings["Cosmos:AllowInsecureEmulatorCertificate"] = "true";
        service.Settings["Memory:Limits:StoreTimeout"] = "00:00:02";
        var http = service.Client();

        var (read, took) = await Timed(() => http.GetAsync("/api/users/u/memory/core"));
        var (add, addTook) = await Timed(() => http.PostAsync("/api/users/u/memory/archive", Json("""{"content":"likes green tea"}""")));
        output.WriteLine($"silent Cosmos DB endpoint, 2 s deadline: core read answered 503 in {took.TotalSeconds:F2} s, add in {addTook.TotalSeconds:F2} s");

        await Problem(read, 503);
        await Problem(add, 503);
        Assert.True(took < TimeSpan.FromSeconds(7), $"the read took {took}");
        Assert.True(addTook < TimeSpan.FromSeconds(7), $"the add took {addTook}");
        Assert.NotNull(read.Headers.RetryAfter);
        silent.Stop();
        foreach (var client in held) client.Dispose();
    }

    [Fact]
    public async Task Cosmos_throttling_past_the_client_s_retries_is_a_503_with_retry_after()
    {
        var (service, store) = Service();
        using var _ = service;
        var http = service.Client();
        store.Throws = new CosmosException("Request rate is large.", HttpStatusCode.TooManyRequests, 3200, "activity", 0.1);

        var problem = await Problem(await http.GetAsync("/api/users/u/memory/core"), 503);

        Assert.Contains("429", (string?)problem["detail"]);
        Assert.DoesNotContain("Request rate", problem.ToJsonString(), StringComparison.Ordinal);
    }
}

/// <summary>The real store, but the call named by <see cref="Stalls"/> waits (for its token, or ignoring it until released), and <see cref="Throws"/> fails every call.</summary>
internal sealed class StallingStore(IMemoryStore inner) : DelegatingMemoryStore(inner)
{
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public volatile string? Stalls;
    public volatile bool IgnoresCancellation;
    public volatile Exception? Throws;

    public void Release() => _released.TrySetResult();

    private async Task Before(string method, CancellationToken cancellationToken)
    {
        if (Throws is { } e) throw e;
        if (Stalls != method) return;
        if (IgnoresCancellation) await _released.Task;
        else await Task.Delay(Timeout.Infinite, cancellationToken);
        cancellationToken.ThrowIfCancellationRequested(); // released late: the request is over, write nothing
    }

    public override async Task<CoreMemory?> GetCoreAsync(string userId, CancellationToken cancellationToken = default)
    {
        await Before(nameof(GetCoreAsync), cancellationToken);
        return await base.GetCoreAsync(userId, cancellationToken);
    }

    public override async Task<CommitResult> CommitAsync(string userId, MemoryChangeSet changes, CancellationToken cancellationToken = default)
    {
        await Before(nameof(CommitAsync), cancellationToken);
        return await base.CommitAsync(userId, changes, cancellationToken);
    }

    public override async Task<ArchiveItem?> GetArchiveItemAsync(string userId, string id, CancellationToken cancellationToken = default)
    {
        await Before(nameof(GetArchiveItemAsync), cancellationToken);
        return await base.GetArchiveItemAsync(userId, id, cancellationToken);
    }
}
