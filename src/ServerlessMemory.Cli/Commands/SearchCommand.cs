using System.ComponentModel;
using System.Globalization;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ServerlessMemory.Cli.Commands;

/// <summary><c>smem search USER QUERY [--top N]</c>: the ranked archive search, as a table with each score's parts.</summary>
public sealed class SearchCommand(SmemConsole console, ServiceClients clients) : AsyncCommand<SearchCommand.Settings>
{
    public sealed class Settings : UserSettings
    {
        [CommandArgument(1, "<QUERY>")]
        [Description("What to look for.")]
        public string Query { get; init; } = "";

        [CommandOption("-n|--top <N>")]
        [Description("How many results (the service's default and limit apply).")]
        public int? Top { get; init; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var items = await clients.Create(settings).SearchArchiveAsync(settings.User, settings.Query, settings.Top, cancellationToken);
        if (items.Count == 0)
        {
            console.Status.MarkupLine("Nothing found.");
            return 0;
        }
        var table = new Table().AddColumns("score", "relevance", "decay", "type", "created", "content");
        foreach (var item in items)
            table.AddRow(Number(item.Score?.Total), Number(item.Score?.Relevance), Number(item.Score?.Decay), item.Type,
                item.CreatedAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture), Markup.Escape(item.Content));
        console.Output.Write(table);
        return 0;
    }

    private static string Number(double? value) => value?.ToString("0.000", CultureInfo.InvariantCulture) ?? "";
}
