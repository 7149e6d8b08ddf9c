using ServerlessMemory.Tests.Functions.Host;

namespace ServerlessMemory.Tests.Functions;

/// <summary>The Functions app logging at Information, as an operator reads it.</summary>
public sealed class InformationLogsFunctionsAppFixture : FunctionsAppFixture
{
    protected override FunctionsWorkerHostOptions Configure(FunctionsWorkerHostOptions options) =>
        options with { Settings = new Dictionary<string, string?>(options.Settings) { ["Logging__LogLevel__Default"] = "Information" } };
}

public sealed class FunctionsHostSweepLogTests(InformationLogsFunctionsAppFixture app) : IClassFixture<InformationLogsFunctionsAppFixture>
{
    [Fact]
    public async Task A_timer_sweep_is_logged_once_with_its_figures_as_fields()
    {
        var outcome = await app.Host.InvokeTimerAsync("DecaySweep");

        Assert.True(outcome.Succeeded, $"{outcome.ExceptionType}: {outcome.ExceptionMessage}{Environment.NewLine}{app.Host.Logs}");
        var lines = app.Host.Logs.Split(Environment.NewLine)
            .Where(l => l.Contains("sweep", StringComparison.OrdinalIgnoreCase) && l.Contains("scanned", StringComparison.OrdinalIgnoreCase))
            .ToList();
        var line = Assert.Single(lines);
        Assert.Contains("Decay sweep scanned 0 and forgot 0 memories of 0 users", line, StringComparison.Ordinal);
    }
}
