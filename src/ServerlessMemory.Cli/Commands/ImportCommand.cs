using System.ComponentModel;
using System.Text.Json;
using ServerlessMemory.Client;
using ServerlessMemory.Core;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ServerlessMemory.Cli.Commands;

/// <summary>
/// <c>smem import USER [FILE] [--format letta|mem0] [--mode merge|replace] [--dry-run]</c>: a document
/// into the user's memory. A Letta agent file or a mem0 export is converted first (Core's
/// <see cref="ForeignMemory"/>, docs/import.md); standard input is kept first. Both are kept with the
/// cursor of an import that stopped, so the same command run again goes on.
/// </summary>
public sealed class ImportCommand(SmemConsole console, ServiceClients clients) : AsyncCommand<ImportCommand.Settings>
{
    public sealed class Settings : UserSettings
    {
        [CommandArgument(1, "[FILE]")]
        [Description("The document (serverless-memory/1), a Letta agent file or a mem0 export; none: standard input.")]
        public string? File { get; init; }

        [CommandOption("-f|--format <FORMAT>")]
        [Description("serverless-memory (default), letta or mem0.")]
        public string? Format { get; init; }

        [CommandOption("-m|--mode <MODE>")]
        [Description("merge (default: what the user has stays, the same document twice changes nothing) or replace (the user is emptied first).")]
        public string Mode { get; init; } = "merge";

        [CommandOption("--dry-run")]
        [Description("Say what would be added, updated, skipped or in conflict; write nothing.")]
        public bool DryRun { get; init; }

        [CommandOption("--from-user <USER>")]
        [Description("The document's user, when it is not USER (a serverless-memory document names its user).")]
        public string? FromUser { get; init; }

        [CommandOption("--agent <NAME>")]
        [Description("Of a Letta file with several agents, the one to take.")]
        public string? Agent { get; init; }

        public override ValidationResult Validate() =>
            Mode is not ("merge" or "replace") ? ValidationResult.Error("--mode must be merge or replace.")
            : Format is not (null or "serverless-memory") && !ForeignMemory.TryParseFormat(Format, out _) ? ValidationResult.Error("--format must be serverless-memory, letta or mem0.")
            : base.Validate();
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var client = clients.Create(settings);
        var foreign = ForeignMemory.TryParseFormat(settings.Format, out var format);
        var target = settings.Url ?? console.Environment(ServiceSettings.UrlVariable) ?? ServiceClients.DefaultUrl;
        var options = new ImportOptions(settings.Mode, settings.DryRun, FromUserId: settings.FromUser);

        // A plain file is sent as it is; anything else is first made a file that stays until the job is done.
        if (settings.File is { } path && !foreign)
        {
            var job = ImportState.For(console, "import", target, settings.User, settings.Mode, settings.FromUser, await ImportState.HashAsync(path, cancellationToken));
            return await ImportRun.RunAsync(console, client, settings.User, path, options, job, cancellationToken);
        }

        var spool = settings.File ?? await SpoolInputAsync(cancellationToken);
        try
        {
            var state = ImportState.For(console, "import", target, settings.User, settings.Mode, settings.Format, settings.Agent,
                await ImportState.HashAsync(spool, cancellationToken));
            if (!state.HasDocument)
            {
                if (foreign)
                {
                    ForeignConversion? conversion = null;
                    var now = await clients.ServiceTimeAsync(settings, cancellationToken);
                    await state.WriteDocumentAsync(async (file, ct) =>
                    {
                        await using var input = System.IO.File.OpenRead(spool);
                        await using var writer = new Utf8JsonWriter(file);
                        conversion = await Foreign.Converter().ConvertAsync(format, input, settings.User, now, writer, settings.Agent, ct);
                    }, cancellationToken);
                    Foreign.Report(conversion!, console.Status);
                }
                else await state.WriteDocumentAsync(async (file, ct) =>
                {
                    await using var input = System.IO.File.OpenRead(spool);
                    await input.CopyToAsync(file, ct);
                }, cancellationToken);
            }
            return await ImportRun.RunAsync(console, client, settings.User, state.Document, options, state, cancellationToken);
        }
        finally
        {
            if (settings.File is null) System.IO.File.Delete(spool);
        }
    }

    /// <summary>Standard input into a temporary file: an import may need to read its document again.</summary>
    private async Task<string> SpoolInputAsync(CancellationToken cancellationToken)
    {
        var path = Path.GetTempFileName();
        await using var input = console.OpenInput();
        await using var file = System.IO.File.Create(path);
        await input.CopyToAsync(file, cancellationToken);
        return path;
    }
}
