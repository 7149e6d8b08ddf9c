using System.Security.Cryptography;
using System.Text;
using ServerlessMemory.Client;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace ServerlessMemory.Cli;

/// <summary>
/// Where an import keeps what it needs to go on after a stop: the document it sends (converted, read
/// from standard input or exported by <c>copy</c>) and the service's cursor when an import stopped
/// part-way. One folder per job under <c>$SMEM_STATE</c> (default <c>~/.local/state/smem</c>), named by
/// a hash of what makes the job the same job; removed when the job is done.
/// </summary>
internal sealed class ImportState
{
    public const string StateVariable = "SMEM_STATE";

    private ImportState(string folder) => Folder = folder;

    public string Folder { get; }

    public string Document => Path.Combine(Folder, "document.json");

    private string CursorFile => Path.Combine(Folder, "cursor");

    public bool HasDocument => File.Exists(Document);

    public string? Cursor => File.Exists(CursorFile) ? File.ReadAllText(CursorFile).Trim() : null;

    public static ImportState For(SmemConsole console, params string?[] job)
    {
        var root = console.Environment(StateVariable) is { Length: > 0 } configured ? configured
            : Path.Combine(console.Environment("XDG_STATE_HOME") is { Length: > 0 } xdg ? xdg
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "state"), "smem");
        var name = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', job))))[..16];
        var folder = Path.Combine(root, "imports", name);
        Directory.CreateDirectory(folder);
        return new(folder);
    }

    /// <summary>Writes the document once: to a side file first, so a stop half-way leaves none that looks whole.</summary>
    public async Task WriteDocumentAsync(Func<Stream, CancellationToken, Task> write, CancellationToken cancellationToken)
    {
        var partial = Document + ".partial";
        try
        {
            await using (var file = new FileStream(partial, FileMode.Create, FileAccess.Write, FileShare.None, 81920, useAsync: true))
                await write(file, cancellationToken);
            File.Move(partial, Document, overwrite: true);
        }
        finally
        {
            File.Delete(partial);
        }
    }

    public void SaveCursor(string cursor) => File.WriteAllText(CursorFile, cursor);

    public void Done() => Directory.Delete(Folder, recursive: true);

    /// <summary>A hash of a file's bytes, so a changed file is another job.</summary>
    public static async Task<string> HashAsync(string path, CancellationToken cancellationToken)
    {
        await using var file = File.OpenRead(path);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(file, cancellationToken));
    }
}

/// <summary>One import of a document file, shown as a bar with its rate and the time left, resumed from a saved cursor.</summary>
internal static class ImportRun
{
    public static async Task<int> RunAsync(SmemConsole console, ServerlessMemoryClient client, string user, string document, ImportOptions options,
        ImportState? state, CancellationToken cancellationToken)
    {
        var cursor = state?.Cursor;
        if (cursor is not null)
        {
            console.Status.MarkupLine("[yellow]Resuming[/] the import that stopped part-way, from where it stopped.");
            options = options with { Cursor = cursor };
        }
        ImportReport report;
        try
        {
            report = await WithBarAsync(console.Status, $"Importing into {user}", (progress, ct) =>
                client.ImportAsync(user, () => File.OpenRead(document), options, progress, attempts: 3, ct), cancellationToken);
        }
        catch (ServerlessMemoryException e) when (e.Imported is { Cursor: { } stoppedAt } landed && state is not null)
        {
            state.SaveCursor(stoppedAt);
            Summary(console, landed);
            console.Status.MarkupLine("[yellow]The import stopped part-way[/]; run the same command again to go on from there.");
            throw;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested && state is not null)
        {
            // The service stops at a chunk's end: what landed stays, and the same document merged again skips it.
            console.Status.MarkupLine("Run the same command again to go on: what already landed is skipped.");
            throw;
        }
        Summary(console, report);
        state?.Done();
        return 0;
    }

    private static async Task<ImportReport> WithBarAsync(IAnsiConsole status, string description,
        Func<IProgress<ImportProgress>, CancellationToken, Task<ImportReport>> work, CancellationToken cancellationToken) =>
        await status.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new SentColumn(), new TransferSpeedColumn(),
                new RemainingTimeColumn())
            .StartAsync(async context =>
            {
                var task = context.AddTask(Markup.Escape(description), maxValue: 1);
                var report = await work(new Transfer.Inline<ImportProgress>(p =>
                {
                    if (p.TotalBytes is { } total && total > 0) task.MaxValue = total;
                    task.Value = p.BytesSent;
                    // All sent: the service is writing its last chunks and will answer when they are down.
                    if (p.BytesSent >= task.MaxValue) task.Description = Markup.Escape(description) + " [dim](service writing)[/]";
                }), cancellationToken);
                task.Value = task.MaxValue;
                task.Description = Markup.Escape(description);
                task.StopTask();
                return report;
            });

    private sealed class SentColumn : ProgressColumn
    {
        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
            new Text($"{Transfer.Size(task.Value)}/{Transfer.Size(task.MaxValue)}");
    }

    private static void Summary(SmemConsole console, ImportReport report)
    {
        var table = new Table().AddColumns(report.DryRun ? "would be (dry run)" : "imported", "added", "updated", "skipped", "conflicts", "forgotten");
        foreach (var (name, tally) in new[] { ("core", report.Core), ("archive", report.Archive), ("messages", report.Messages), ("sessions", report.Sessions) })
            table.AddRow(name, $"{tally.Added:N0}", $"{tally.Updated:N0}", $"{tally.Skipped:N0}", $"{tally.Conflicts:N0}", $"{tally.Forgotten:N0}");
        console.Output.Write(table);
        console.Status.MarkupLine($"{(report.Complete ? "Complete" : "Not complete")}: {report.Records:N0} records, {report.Chunks:N0} chunks written, vectors {Markup.Escape(report.Vectors)}.");
        foreach (var conflict in report.Conflicts.Take(10))
            console.Status.MarkupLine($"  [dim]conflict[/] {Markup.Escape(conflict.Section)} {Markup.Escape(conflict.Id)}: {Markup.Escape(conflict.Reason)}");
        if (report.Forgotten.Count > 0)
            console.Status.MarkupLine($"  {report.Forgotten.Count:N0} memories were past their forgetting point and not stored.");
    }
}
