using Spectre.Console;

namespace ServerlessMemory.Cli;

/// <summary>Long work under a progress display on the status console: a bar with its rate and the time left where the total is known.</summary>
internal static class Transfer
{
    /// <summary>A transfer of unknown length, shown as bytes so far and their rate; returns the bytes.</summary>
    public static async Task<long> WithBytesAsync(IAnsiConsole status, string description, Func<IProgress<long>, CancellationToken, Task> work, CancellationToken cancellationToken)
    {
        long bytes = 0;
        await status.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new SpinnerColumn(), new DownloadedColumn(), new TransferSpeedColumn(), new ElapsedTimeColumn())
            .StartAsync(async context =>
            {
                var task = context.AddTask(Markup.Escape(description), maxValue: long.MaxValue);
                task.IsIndeterminate = true;
                await work(new Inline<long>(b =>
                {
                    bytes = b;
                    task.Value = b;
                }), cancellationToken);
                task.IsIndeterminate = false;
                task.StopTask();
            });
        return bytes;
    }

    /// <summary>Reports on the caller's thread, in order (<see cref="Progress{T}"/> posts to the thread pool).</summary>
    internal sealed class Inline<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
