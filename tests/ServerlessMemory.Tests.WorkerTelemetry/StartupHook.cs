using System.Runtime.Loader;
using ServerlessMemory.Tests.WorkerTelemetry;

/// <summary>
/// Run by the runtime before the worker's <c>Main</c> when <c>DOTNET_STARTUP_HOOKS</c> names this
/// assembly (the type must be called <c>StartupHook</c>, in no namespace). Does nothing unless the
/// test host set <see cref="WorkerTelemetry.FileVariable"/>.
/// </summary>
#pragma warning disable CA1050 // the runtime finds the hook by this exact name, outside any namespace
internal static class StartupHook
#pragma warning restore CA1050
{
    public static void Initialize()
    {
        var file = Environment.GetEnvironmentVariable(WorkerTelemetry.FileVariable);
        if (string.IsNullOrEmpty(file)) return;
        // The app's deps.json lists OpenTelemetry but not the in-memory exporter: that one loads from here.
        var directory = Path.GetDirectoryName(typeof(StartupHook).Assembly.Location)!;
        AssemblyLoadContext.Default.Resolving += (context, name) =>
            Path.Combine(directory, name.Name + ".dll") is var path && File.Exists(path) ? context.LoadFromAssemblyPath(path) : null;
        WorkerTelemetry.Start(file);
        Console.Error.WriteLine($"[telemetry hook] exporting to {file}");
    }
}
