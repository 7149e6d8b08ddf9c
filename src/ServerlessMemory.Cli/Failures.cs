using ServerlessMemory.Client;
using ServerlessMemory.Core;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ServerlessMemory.Cli;

/// <summary>How a failed command ends: one line saying what is wrong, never a stack trace, never a key.</summary>
internal static class Failures
{
    public const int Stopped = 130;

    public static int Report(Exception exception, IAnsiConsole status, CancellationToken cancellationToken)
    {
        switch (exception)
        {
            case OperationCanceledException when cancellationToken.IsCancellationRequested:
                status.MarkupLine("[yellow]Stopped.[/]");
                return Stopped;
            case ServerlessMemoryException problem:
                status.MarkupLine($"[red]The service answered {(int)problem.StatusCode}:[/] {Markup.Escape(problem.Message)}");
                foreach (var (field, errors) in problem.Errors)
                    status.MarkupLine($"  {Markup.Escape(field)}: {Markup.Escape(string.Join(" ", errors))}");
                return 1;
            case MemoryValidationException invalid:
                status.MarkupLine($"[red]{Markup.Escape(invalid.Field)}:[/] {Markup.Escape(invalid.Message)}");
                return 1;
            case HttpRequestException http:
                status.MarkupLine($"[red]The service could not be reached:[/] {Markup.Escape(http.Message)}");
                return 1;
            case IOException or UnauthorizedAccessException:
                status.MarkupLine($"[red]{Markup.Escape(exception.Message)}[/]");
                return 1;
            case CommandAppException or CommandParseException or CommandRuntimeException:
                status.MarkupLine($"[red]{Markup.Escape(exception.Message)}[/]");
                return 2;
            default:
                status.MarkupLine($"[red]{Markup.Escape(exception.GetType().Name)}:[/] {Markup.Escape(exception.Message)}");
                return 1;
        }
    }
}
