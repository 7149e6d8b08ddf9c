using System.ComponentModel;
using System.Text.Json;
using ServerlessMemory.Core;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ServerlessMemory.Cli.Commands;

/// <summary>
/// <c>smem convert [FILE] --format letta|mem0 --user USER [-o OUT]</c>: another system's export as this
/// service's document, to read before importing it (the mapping is Core's <see cref="ForeignMemory"/>, the one the import uses).
/// </summary>
public sealed class ConvertCommand(SmemConsole console) : AsyncCommand<ConvertCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "[FILE]")]
        [Description("A Letta agent file (.af) or a mem0 export (JSON, JSON Lines, OpenMemory's zip); none: standard input.")]
        public string? File { get; init; }

        [CommandOption("-f|--format <FORMAT>")]
        [Description("letta or mem0.")]
        public string? Format { get; init; }

        [CommandOption("-u|--user <USER>")]
        [Description("The user the document is for.")]
        public string? User { get; init; }

        [CommandOption("--agent <NAME>")]
        [Description("Of a Letta file with several agents, the one to take (by name or id).")]
        public string? Agent { get; init; }

        [CommandOption("-o|--output <FILE>")]
        [Description("Where to write the document; none: standard output.")]
        public string? Output { get; init; }

        public override ValidationResult Validate() =>
            !ForeignMemory.TryParseFormat(Format, out _) ? ValidationResult.Error("--format must be letta or mem0.")
            : string.IsNullOrWhiteSpace(User) ? ValidationResult.Error("--user is required: the document is for one user.")
            : ValidationResult.Success();
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        ForeignMemory.TryParseFormat(settings.Format, out var format);
        await using var input = Inputs.Open(settings.File, console);
        await using var output = settings.Output is null ? console.OpenOutput() : System.IO.File.Create(settings.Output);
        await using var writer = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = true });
        var conversion = await Foreign.Converter().ConvertAsync(format, input, settings.User!, DateTimeOffset.UtcNow, writer, settings.Agent, cancellationToken);
        Foreign.Report(conversion, console.Status);
        return 0;
    }
}
