using Microsoft.Extensions.DependencyInjection;
using ServerlessMemory.Cli.Commands;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ServerlessMemory.Cli;

/// <summary>
/// What the tool reads and writes besides files: <see cref="Output"/> for what a command answers
/// (standard output), <see cref="Status"/> for progress, notes and errors (standard error, so that
/// <c>smem export u &gt; file</c> keeps the file clean), standard input and output as streams, and the environment.
/// </summary>
public sealed record SmemConsole(IAnsiConsole Output, IAnsiConsole Status, Func<Stream> OpenInput, Func<Stream> OpenOutput,
    Func<string, string?> Environment, bool InputRedirected);

/// <summary>The <c>smem</c> command line: one command per job, each a class in Commands/.</summary>
public static class Smem
{
    public static async Task<int> RunAsync(string[] args, SmemConsole console, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(console);
        using var clients = new ServiceClients(console);
        var services = new ServiceCollection().AddSingleton(console).AddSingleton(clients);
        var app = new CommandApp(new Registrar(services));
        app.Configure(config =>
        {
            config.SetApplicationName("smem");
            config.ConfigureConsole(console.Status);
            config.AddCommand<ExportCommand>("export").WithDescription("Write everything the service keeps for a user to a file (serverless-memory/1).")
                .WithExample("export", "alice", "-o", "alice.json");
            config.AddCommand<ImportCommand>("import").WithDescription("Import a document, a Letta agent file or a mem0 export into a user (stopped, the same command goes on).")
                .WithExample("import", "alice", "alice.json")
                .WithExample("import", "alice", "agent.af", "--format", "letta");
            config.AddCommand<CopyCommand>("copy").WithDescription("Copy a user from one service to another, decay state and all.")
                .WithExample("copy", "alice", "--url", "http://127.0.0.1:7071/", "--to-url", "https://my-app.azurewebsites.net/");
            config.AddCommand<SearchCommand>("search").WithDescription("Search a user's archive (each result counts as a recall).")
                .WithExample("search", "alice", "what project am I working on");
            config.AddCommand<CoreCommand>("core").WithDescription("Show a user's core memory blocks.");
            config.AddCommand<EraseCommand>("erase").WithDescription("Erase everything the service keeps for a user.");
            config.AddCommand<ConvertCommand>("convert").WithDescription("Turn a Letta agent file or a mem0 export into a serverless-memory/1 document (no service needed).")
                .WithExample("convert", "agent.af", "--format", "letta", "--user", "alice", "-o", "alice.json");
            config.SetExceptionHandler((exception, _) => Failures.Report(exception, console.Status, cancellationToken));
        });
        return await app.RunAsync(args, cancellationToken);
    }

    /// <summary>Spectre.Console.Cli's commands made by Microsoft.Extensions.DependencyInjection.</summary>
    private sealed class Registrar(IServiceCollection services) : ITypeRegistrar
    {
        public void Register(Type service, Type implementation) => services.AddSingleton(service, implementation);

        public void RegisterInstance(Type service, object implementation) => services.AddSingleton(service, implementation);

        public void RegisterLazy(Type service, Func<object> factory) => services.AddSingleton(service, _ => factory());

        public ITypeResolver Build() => new Resolver(services.BuildServiceProvider());
    }

    private sealed class Resolver(ServiceProvider provider) : ITypeResolver, IDisposable
    {
        public object? Resolve(Type? type) => type is null ? null : provider.GetService(type) ?? ActivatorUtilities.CreateInstance(provider, type);

        public void Dispose() => provider.Dispose();
    }
}
