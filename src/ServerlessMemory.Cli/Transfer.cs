using System.Globalization;
using Spectre.Console;
using Spectre.Console.Rendering;

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
            .Columns(new TaskDescriptionColumn(), new SpinnerColumn(), new BytesSoFarColumn(), new TransferSpeedColumn(), new ElapsedTimeColumn())
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

    /// <summary>The bytes so far of a transfer whose length is not known (Spectre's DownloadedColumn shows them against the maximum).</summary>
    private sealed class BytesSoFarColumn : ProgressColumn
    {
        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime) => new Text(Size(task.Value));
    }

    internal static string Size(double bytes) => bytes switch
    {
        < 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes:0} B"),
        < 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024:0.0} KiB"),
        < 1024L * 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024 * 1024):0.0} MiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024 * 1024 * 1024):0.00} GiB"),
    };

    /// <summary>Reports on the caller's thread, in order (<see cref="Progress{T}"/> posts to the thread pool).</summary>
    internal sealed class Inline<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
