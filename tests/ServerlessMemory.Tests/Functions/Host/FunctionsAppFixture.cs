using System.Reflection;

namespace ServerlessMemory.Tests.Functions.Host;

/// <summary>
/// The built Functions app, running as a worker process under <see cref="FunctionsWorkerHost"/>, on
/// its own SQLite file. Use it as a class fixture and talk to it over HTTP as to the self-host:
/// <code>
/// public sealed class MyTests(FunctionsAppFixture app) : IClassFixture&lt;FunctionsAppFixture&gt;
/// {
///     [Fact] public async Task Health_answers() =&gt; await app.Client().GetAsync("/api/health");
///     [Fact] public async Task Sweep_runs() =&gt; Assert.True((await app.Host.InvokeTimerAsync("DecaySweep")).Succeeded);
/// }
/// </code>
/// Settings go to the worker as app settings (environment variables); derive and override
/// <see cref="Configure"/> to change them, or to set the host's keys.
/// </summary>
public class FunctionsAppFixture : IAsyncLifetime
{
    private readonly string _directory = Directory.CreateTempSubdirectory("sm-functions-").FullName;
    private FunctionsWorkerHost? _host;

    public FunctionsWorkerHost Host => _host ?? throw new InvalidOperationException("The Functions app has not started.");

    /// <summary>A client of the app, sending <c>x-functions-key</c> when a key is given.</summary>
    public HttpClient Client(string? key = null) => Host.CreateClient(key);

    /// <summary>Runs a test's body; a failure carries the host's and the worker's logs, so a failed run says why.</summary>
    public async Task WithLogsAsync(Func<Task> test)
    {
        ArgumentNullException.ThrowIfNull(test);
        try
        {
            await test();
        }
        catch (Exception e)
        {
            throw new Xunit.Sdk.XunitException($"{e.GetType().Name}: {e.Message}{Environment.NewLine}--- host and worker logs ---{Environment.NewLine}{Host.Logs}");
        }
    }

    /// <summary>The built app's folder: the test command builds src/ServerlessMemory.Functions before this project.</summary>
    public static string AppDirectory => typeof(FunctionsAppFixture).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "FunctionsAppOutput").Value!;

    protected virtual FunctionsWorkerHostOptions Configure(FunctionsWorkerHostOptions options) => options;

    public async Task InitializeAsync() =>
        _host = await FunctionsWorkerHost.StartAsync(Configure(new FunctionsWorkerHostOptions
        {
            AppDirectory = AppDirectory,
            Settings = new Dictionary<string, string?>
            {
                ["Memory__Store"] = "Sqlite",
                ["Memory__SqlitePath"] = Path.Combine(_directory, "memory.db"),
                ["Model__Provider"] = "None",
                // The schedule the timer's metadata names; the host here never fires it, tests invoke it.
                ["Decay__Schedule"] = "0 0 0 1 1 *",
                ["Logging__LogLevel__Default"] = "Warning",
                // The API tests read access counts right after a search: write them with each search here.
                ["Memory__Accesses__FlushInterval"] = "00:00:00",
            },
        }));

    public async Task DisposeAsync()
    {
        if (_host is not null) await _host.DisposeAsync();
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
