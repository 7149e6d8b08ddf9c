using System.Diagnostics;
using System.Reflection;

namespace ServerlessMemory.Infra.Tests;

/// <summary>The bicep CLI of the Azure.Bicep.CommandLine.linux-x64 package, whose path the build puts into this assembly.</summary>
internal static class Bicep
{
    private static readonly Lazy<string> s_path = new(FindBinary);

    public static string BinaryPath => s_path.Value;

    public static BicepResult Run(params string[] arguments)
    {
        var start = new ProcessStartInfo(BinaryPath)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = RepoRoot.Path,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {BinaryPath}.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"bicep {string.Join(' ', arguments)} ran for more than 5 minutes.");
        }

        return new BicepResult(process.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult());
    }

    private static string FindBinary()
    {
        // The package holds a linux-x64 binary; elsewhere use the CLI `az bicep install` puts on the machine.
        if (!OperatingSystem.IsLinux() || System.Runtime.InteropServices.RuntimeInformation.OSArchitecture != System.Runtime.InteropServices.Architecture.X64)
        {
            var name = OperatingSystem.IsWindows() ? "bicep.exe" : "bicep";
            var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            return (Environment.GetEnvironmentVariable("PATH") ?? "").Split(System.IO.Path.PathSeparator)
                       .Append(System.IO.Path.Combine(home, ".azure", "bin"))
                       .Select(directory => System.IO.Path.Combine(directory, name))
                       .FirstOrDefault(File.Exists)
                   ?? throw new FileNotFoundException("The infra tests need the bicep CLI on this platform: run `az bicep install`.");
        }

        var packagePath = typeof(Bicep).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(attribute => attribute.Key == "BicepPackagePath")?.Value;
        if (string.IsNullOrEmpty(packagePath))
        {
            throw new InvalidOperationException(
                "The build did not record the path of the Azure.Bicep.CommandLine.linux-x64 package (PkgAzure_Bicep_CommandLine_linux-x64).");
        }

        var binary = System.IO.Path.Combine(packagePath, "tools", "bicep");
        if (!File.Exists(binary))
        {
            throw new FileNotFoundException("The bicep package holds no tools/bicep binary.", binary);
        }

        // NuGet extracts the binary without its execute bits on some machines.
        if (!OperatingSystem.IsWindows())
        {
            const UnixFileMode execute = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
            var mode = File.GetUnixFileMode(binary);
            if ((mode & UnixFileMode.UserExecute) == 0)
            {
                File.SetUnixFileMode(binary, mode | execute);
            }
        }

        return binary;
    }
}

internal sealed record BicepResult(int ExitCode, string StandardOutput, string StandardError)
{
    public string Output => StandardOutput + StandardError;

    public override string ToString() => $"exit code {ExitCode}{Environment.NewLine}{Output}";
}

internal static class RepoRoot
{
    private static readonly Lazy<string> s_path = new(Find);

    public static string Path => s_path.Value;

    public static string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    private static string Find()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(directory.FullName, "ServerlessMemory.sln")) ||
                File.Exists(System.IO.Path.Combine(directory.FullName, "Directory.Packages.props")))
            {
                return directory.FullName;
            }
        }

        throw new DirectoryNotFoundException($"No ServerlessMemory.sln or Directory.Packages.props above {AppContext.BaseDirectory}.");
    }
}
