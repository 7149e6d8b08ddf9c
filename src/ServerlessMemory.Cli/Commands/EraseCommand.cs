using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ServerlessMemory.Cli.Commands;

/// <summary>
/// <c>smem erase USER [--yes]</c>: erases everything the service keeps for the user, after the user's id
/// is typed again; <c>--yes</c> skips that, and is required when there is no one at the keyboard.
/// </summary>
public sealed class EraseCommand(SmemConsole console, ServiceClients clients) : AsyncCommand<EraseCommand.Settings>
{
    public sealed class Settings : UserSettings
    {
        [CommandOption("-y|--yes")]
        [Description("Erase without asking.")]
        public bool Yes { get; init; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        if (!settings.Yes)
        {
            if (console.InputRedirected)
            {
                console.Status.MarkupLine("[red]Nothing erased:[/] no one is at the keyboard to confirm; add --yes.");
                return 1;
            }
            var typed = await new TextPrompt<string>($"Erase [bold]everything[/] of [bold]{Markup.Escape(settings.User)}[/]? Type the user's id to confirm:")
                .AllowEmpty().ShowAsync(console.Status, cancellationToken);
            if (!string.Equals(typed, settings.User, StringComparison.Ordinal))
            {
                console.Status.MarkupLine("Nothing erased.");
                return 1;
            }
        }
        await clients.Create(settings).DeleteUserAsync(settings.User, cancellationToken);
        console.Status.MarkupLine($"Erased [bold]{Markup.Escape(settings.User)}[/].");
        return 0;
    }
}
