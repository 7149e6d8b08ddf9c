using Spectre.Console;

namespace ServerlessMemory.Cli;

internal static class EntryPoint
{
    // Not top-level statements: their class is the global Program, which the tests already have from the self-host.
    public static async Task<int> Main(string[] args)
    {
        // Ctrl+C once stops the work cleanly (what landed stays, the next run resumes); twice ends the process.
        using var stop = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            if (stop.IsCancellationRequested) return;
            e.Cancel = true;
            stop.Cancel();
        };
        var output = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) });
        var status = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        return await Smem.RunAsync(args,
            new SmemConsole(output, status, Console.OpenStandardInput, Console.OpenStandardOutput, Environment.GetEnvironmentVariable, Console.IsInputRedirected),
            stop.Token);
    }
}
