using ServerlessMemory.Core;
using Spectre.Console;

namespace ServerlessMemory.Cli;

/// <summary>The conversion from other systems as the tool runs it: the service's default limits and decay model.</summary>
internal static class Foreign
{
    public static ForeignMemory Converter() => new(new DecayModel(new DecayOptions()), new MemoryLimits());

    public static void Report(ForeignConversion conversion, IAnsiConsole status)
    {
        status.MarkupLine($"From {conversion.Source}: [bold]{conversion.Blocks}[/] core blocks, [bold]{conversion.ArchiveItems}[/] archive memories, [bold]{conversion.Messages}[/] messages.");
        foreach (var note in conversion.Notes) status.MarkupLine($"  [dim]•[/] {Markup.Escape(note)}");
    }
}

/// <summary>A file argument: a path, or none for standard input.</summary>
internal static class Inputs
{
    public static Stream Open(string? file, SmemConsole console) =>
        file is null ? console.OpenInput() : new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 81920, useAsync: true);
}
