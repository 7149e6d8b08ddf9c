using System.ComponentModel;
using ServerlessMemory.Client;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ServerlessMemory.Cli.Commands;

/// <summary>
/// <c>smem export USER [-o FILE] [--vectors]</c>: the user's whole memory as the service exports it. A file is
/// written beside its name first and takes its name only when whole, so a stopped or failed export
/// never leaves a file that looks complete (the service streams one document: a new run starts over).
/// </summary>
public sealed class ExportCommand(SmemConsole console, ServiceClients clients) : AsyncCommand<ExportCommand.Settings>
{
    public sealed class Settings : UserSettings
    {
        [CommandOption("-o|--output <FILE>")]
        [Description("Where to write the document; none: standard output.")]
        public string? Output { get; init; }

        [CommandOption("--vectors")]
        [Description("Also each memory's vector: an import into a service of the same embedding model reuses them instead of embedding again.")]
        public bool Vectors { get; init; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var client = clients.Create(settings);
        if (settings.Output is null)
        {
            await using var stdout = console.OpenOutput();
            await Transfer.WithBytesAsync(console.Status, $"Exporting {settings.User}", (progress, ct) => client.ExportAsync(settings.User, stdout, new ExportOptions(settings.Vectors), progress, ct), cancellationToken);
            return 0;
        }

        var path = Path.GetFullPath(settings.Output);
        var partial = path + ".partial";
        long bytes;
        try
        {
            await using (var file = new FileStream(partial, FileMode.Create, FileAccess.Write, FileShare.None, 81920, useAsync: true))
                bytes = await Transfer.WithBytesAsync(console.Status, $"Exporting {settings.User}",
                    (progress, ct) => client.ExportAsync(settings.User, file, new ExportOptions(settings.Vectors), progress, ct), cancellationToken);
            File.Move(partial, path, overwrite: true);
        }
        catch
        {
            File.Delete(partial);
            throw;
        }
        console.Status.MarkupLine($"Exported [bold]{Markup.Escape(settings.User)}[/] to {Markup.Escape(settings.Output)} ({bytes:N0} bytes).");
        return 0;
    }
}
