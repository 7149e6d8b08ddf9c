using System.ComponentModel;
using ServerlessMemory.Client;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ServerlessMemory.Cli.Commands;

/// <summary>
/// <c>smem copy USER --to-url URL [--to-key KEY] [--to-user USER2] [--vectors]</c>: a user's memory from one service
/// into another (a self-host's SQLite into Azure, say): exported once into a kept file, then imported
/// with its decay state, so forgetting goes on where it was. Stopped, the same command goes on: the
/// export is not fetched again and the import resumes.
/// </summary>
public sealed class CopyCommand(SmemConsole console, ServiceClients clients) : AsyncCommand<CopyCommand.Settings>
{
    public const string ToUrlVariable = "SERVERLESSMEMORY_TO_URL";
    public const string ToKeyVariable = "SERVERLESSMEMORY_TO_KEY";

    public sealed class Settings : UserSettings
    {
        [CommandOption("--to-url <URL>")]
        [Description("The service to copy into (default: $SERVERLESSMEMORY_TO_URL).")]
        public string? ToUrl { get; init; }

        [CommandOption("--to-key <KEY>")]
        [Description("Its key (default: $SERVERLESSMEMORY_TO_KEY).")]
        public string? ToKey { get; init; }

        [CommandOption("--to-user <USER>")]
        [Description("The user there (default: the same id).")]
        public string? ToUser { get; init; }

        [CommandOption("--vectors")]
        [Description("Carry each memory's vector: the service copied into reuses them when it runs the same embedding model.")]
        public bool Vectors { get; init; }

        [CommandOption("-m|--mode <MODE>")]
        [Description("merge (default) or replace.")]
        public string Mode { get; init; } = "merge";

        public override ValidationResult Validate() =>
            Mode is not ("merge" or "replace") ? ValidationResult.Error("--mode must be merge or replace.")
            : ToUrl is not null && !(Uri.TryCreate(ToUrl, UriKind.Absolute, out var u) && u.Scheme is "http" or "https") ? ValidationResult.Error("--to-url must be an absolute http or https address.")
            : base.Validate();
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var toUrl = settings.ToUrl ?? console.Environment(ToUrlVariable);
        if (string.IsNullOrWhiteSpace(toUrl))
        {
            console.Status.MarkupLine("[red]Where to?[/] Give --to-url or SERVERLESSMEMORY_TO_URL.");
            return 2;
        }
        var from = clients.Create(settings);
        var to = clients.Create(toUrl, settings.ToKey ?? console.Environment(ToKeyVariable));
        var fromUrl = settings.Url ?? console.Environment(ServiceSettings.UrlVariable) ?? ServiceClients.DefaultUrl;
        var toUser = settings.ToUser ?? settings.User;

        var state = ImportState.For(console, "copy", fromUrl, settings.User, toUrl, toUser, settings.Mode, settings.Vectors ? "vectors" : null);
        if (!state.HasDocument)
        {
            long bytes = 0;
            await state.WriteDocumentAsync(async (file, ct) =>
                bytes = await Transfer.WithBytesAsync(console.Status, $"Exporting {settings.User}", (progress, c) => from.ExportAsync(settings.User, file, new ExportOptions(settings.Vectors), progress, c), ct),
                cancellationToken);
            console.Status.MarkupLine($"Exported [bold]{Markup.Escape(settings.User)}[/] ({bytes:N0} bytes).");
        }
        else console.Status.MarkupLine($"[yellow]Going on[/] with the export made before ({new FileInfo(state.Document).Length:N0} bytes).");

        var options = new ImportOptions(settings.Mode, FromUserId: toUser == settings.User ? null : settings.User);
        return await ImportRun.RunAsync(console, to, toUser, state.Document, options, state, cancellationToken);
    }
}
