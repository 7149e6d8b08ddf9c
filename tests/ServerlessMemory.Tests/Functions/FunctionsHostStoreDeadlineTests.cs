using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using ServerlessMemory.Cosmos;
using ServerlessMemory.Tests.Functions.Host;
using Xunit.Abstractions;
using static ServerlessMemory.Tests.Api.HttpAssert;

namespace ServerlessMemory.Tests.Functions;

/// <summary>The built Functions app on a Cosmos DB endpoint that accepts connections and never answers.</summary>
public sealed class SilentCosmosFunctionsAppFixture : FunctionsAppFixture, IAsyncLifetime
{
    private readonly TcpListener _silent = new(IPAddress.Loopback, 0);
    private readonly System.Collections.Concurrent.ConcurrentBag<TcpClient> _held = [];

    // Re-implements IAsyncLifetime: the endpoint must listen before the app starts with its address.
    public new async Task InitializeAsync()
    {
        _silent.Start();
        _ = Task.Run(async () =>
        {
            try { while (true) _held.Add(await _silent.AcceptTcpClientAsync()); }
            catch (Exception e) when (e is ObjectDisposedException or SocketException) { }
        });
        await base.InitializeAsync();
    }

    public new async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _silent.Stop();
        foreach (var client in _held) client.Dispose();
    }

    protected override FunctionsWorkerHostOptions Configure(FunctionsWorkerHostOptions options) => options with
    {
        Settings = new Dictionary<string, string?>(options.Settings)
        {
            ["Memory__Store"] = "Cosmos",
            ["Cosmos__Endpoint"] = $"https://127.0.0.1:{((IPEndPoint)_silent.LocalEndpoint).Port}/",
            ["Cosmos__Key"] = CosmosStoreOptions.EmulatorKey,
            ["Cosmos__AllowInsecureEmulatorCertificate"] = "true",
            ["Memory__Limits__StoreTimeout"] = "00:00:02",
        },
    };
}

/// <summary>Store calls have their deadline in the Functions app too: the same composition root wraps its store.</summary>
public sealed class FunctionsHostStoreDeadlineTests(SilentCosmosFunctionsAppFixture app, ITestOutputHelper output) : IClassFixture<SilentCosmosFunctionsAppFixture>
{
    [Fact]
    public async Task A_stalled_store_makes_a_function_answer_503_with_retry_after_within_the_deadline()
    {
        var http = app.Client();
        var clock = Stopwatch.StartNew();

        var response = await http.PostAsync("/api/users/u/memory/archive", Json("""{"content":"likes green tea"}"""));
        var took = clock.Elapsed;
        output.WriteLine($"Functions app, silent Cosmos DB endpoint, 2 s deadline: add answered {(int)response.StatusCode} in {took.TotalSeconds:F2} s");

        await Problem(response, 503);
        Assert.NotNull(response.Headers.RetryAfter);
        Assert.True(took < TimeSpan.FromSeconds(7), $"the add took {took}");
    }
}
