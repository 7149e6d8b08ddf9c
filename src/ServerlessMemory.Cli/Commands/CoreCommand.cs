using Spectre.Console;
using Spectre.Console.Cli;

namespace ServerlessMemory.Cli.Commands;

/// <summary><c>smem core USER</c>: the user's core memory blocks, as the model sees them in every prompt.</summary>
public sealed class CoreCommand(SmemConsole console, ServiceClients clients) : AsyncCommand<UserSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, UserSettings settings, CancellationToken cancellationToken)
    {
        var core = await clients.Create(settings).GetCoreMemoryAsync(settings.User, cancellationToken);
        var table = new Table().AddColumns("label", "used", "value");
        foreach (var block in core.Blocks)
            table.AddRow(Markup.Escape(block.Label) + (block.ReadOnly ? " [dim](read-only)[/]" : ""), $"{block.Value.Length:N0}/{block.Limit:N0}", Markup.Escape(block.Value));
        console.Output.Write(table);
        return 0;
    }
}
