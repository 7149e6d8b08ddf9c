using System.Collections.Concurrent;
using System.Diagnostics;

namespace ServerlessMemory.Tests.Api;

/// <summary>The self-host as an operator starts it: its own process, settings from the environment.</summary>
public sealed class StartupTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("sm-start-").FullName;

    private sealed class Run : IDisposable
    {
        public required Process Process { get; init; }
        public ConcurrentQueue<string> Lines { get; } = new();

        public string Output => string.Join('\n', Lines);

        public async Task<string> WaitForLine(Func<string, bool> match, TimeSpan timeout)
        {
            var deadline = DateTime.UtcNow + timeout;
            while (DateTime.UtcNow < deadline)
            {
                if (Lines.FirstOrDefault(match) is { } line) return line;
                if (Process.HasExited && Lines.FirstOrDefault(match) is null) break;
                await Task.Delay(50);
            }
            Assert.Fail("No such line in:\n" + Output);
            return "";
        }

        public void Dispose()
        {
            if (!Process.HasExited) Process.Kill(entireProcessTree: true);
            Process.Dispose();
        }
    }

    private Run Start(IDictionary<string, string> environment, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = _directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "ServerlessMemory.Server.dll"));
        foreach (var arg in args) info.ArgumentList.Add(arg);
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("ASPNETCORE_", StringComparison.Ordinal) || k.Contains("__", StringComparison.Ordinal)).ToList())
            info.Environment.Remove(key);
        info.Environment["DOTNET_ENVIRONMENT"] = "Production";
        info.Environment["Memory__SqlitePath"] = Path.Combine(_directory, "memory.db");
        foreach (var (key, value) in environment) info.Environment[key] = value;
        var run = new Run { Process = Process.Start(info)! };
        run.Process.OutputDataReceived += (_, e) => { if (e.Data is not null) run.Lines.Enqueue(e.Data); };
        run.Process.ErrorDataReceived += (_, e) => { if (e.Data is not null) run.Lines.Enqueue(e.Data); };
        run.Process.BeginOutputReadLine();
        run.Process.BeginErrorReadLine();
        return run;
    }

    [Fact]
    public async Task Start_up_says_the_store_the_models_the_address_and_the_schedule_in_a_line_each_and_no_key()
    {
        using var run = Start(new Dictionary<string, string>
        {
            ["Model__Provider"] = "OpenAI",
            ["Model__Endpoint"] = "http://127.0.0.1:9/v1",
            ["Model__ApiKey"] = "sk-start-up-secret",
            ["Model__ChatModel"] = "chat-model-x",
            ["Model__ExtractionModel"] = "small-model-y",
            ["Model__EmbeddingModel"] = "embed-z",
        }, "--urls", "http://127.0.0.1:0");

        var timeout = TimeSpan.FromSeconds(60);
        var store = await run.WaitForLine(l => l.Contains("Store:", StringComparison.Ordinal), timeout);
        Assert.Contains(Path.Combine(_directory, "memory.db"), store, StringComparison.Ordinal);
        var model = await run.WaitForLine(l => l.Contains("Model:", StringComparison.Ordinal), timeout);
        Assert.All(new[] { "OpenAI", "127.0.0.1:9", "chat-model-x", "small-model-y", "embed-z" }, s => Assert.Contains(s, model, StringComparison.Ordinal));
        var address = await run.WaitForLine(l => l.Contains("Serving", StringComparison.Ordinal), timeout);
        Assert.Matches(@"http://127\.0\.0\.1:\d+", address);
        Assert.Contains("no keys", address, StringComparison.Ordinal);
        var decay = await run.WaitForLine(l => l.Contains("Decay sweep", StringComparison.Ordinal), timeout);
        Assert.Contains("0 0 * * * *", decay, StringComparison.Ordinal);
        Assert.DoesNotContain("sk-start-up-secret", run.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_address_narrowed_to_loopback_is_said()
    {
        using var run = Start(new Dictionary<string, string>(), "--urls", "http://0.0.0.0:0");

        var line = await run.WaitForLine(l => l.Contains("0.0.0.0", StringComparison.Ordinal), TimeSpan.FromSeconds(60));

        Assert.Contains("127.0.0.1", line, StringComparison.Ordinal);
        Assert.Contains("Auth__ApiKey", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Memory__Store", "Bogus", "Memory__Store")]
    [InlineData("Model__Provider", "Bogus", "Model__Provider")]
    [InlineData("Model__Provider", "AzureOpenAI", "Model__Endpoint")]
    [InlineData("Decay__Schedule", "every hour", "Decay__Schedule")]
    [InlineData("Memory__SqlitePath", "/proc/serverless-memory/memory.db", "Memory__SqlitePath")]
    [InlineData("Memory__Search__ContextWeight", "2", "Memory__Search__ContextWeight")]
    [InlineData("Memory__Search__B", "-0.5", "Memory__Search__B")]
    public async Task A_bad_setting_is_one_line_naming_it_and_a_non_zero_exit(string name, string value, string named)
    {
        using var run = Start(new Dictionary<string, string> { [name] = value }, "--urls", "http://127.0.0.1:0");

        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await run.Process.WaitForExitAsync(cancel.Token);
        run.Process.WaitForExit();

        Assert.NotEqual(0, run.Process.ExitCode);
        var lines = run.Lines.Where(l => l.Trim().Length > 0).ToList();
        Assert.True(lines.Count == 1, run.Output);
        Assert.Contains(named, lines[0], StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", run.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Memory__Store", "7")]
    [InlineData("Model__Provider", "9")]
    [InlineData("Model__Provider", "OpenAI,AzureOpenAI")]
    public async Task A_number_or_a_list_for_an_enum_setting_is_refused_as_a_bad_name_is(string name, string value)
    {
        using var run = Start(new Dictionary<string, string> { [name] = value }, "--urls", "http://127.0.0.1:0");

        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await run.Process.WaitForExitAsync(cancel.Token);
        run.Process.WaitForExit();

        Assert.Equal(2, run.Process.ExitCode);
        var line = Assert.Single(run.Lines, l => l.Trim().Length > 0);
        Assert.StartsWith($"ServerlessMemory cannot start: {name} must be ", line, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
