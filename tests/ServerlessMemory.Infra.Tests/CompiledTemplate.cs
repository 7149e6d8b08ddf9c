namespace ServerlessMemory.Infra.Tests;

/// <summary>Compiles <c>infra/main.bicep</c> once for the tests that read the template.</summary>
public sealed class CompiledTemplate : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "serverless-memory-infra-" + Guid.NewGuid().ToString("N"));
    private readonly Lazy<ArmTemplate> _template;

    public CompiledTemplate()
    {
        Directory.CreateDirectory(_directory);
        var outFile = Path.Combine(_directory, "main.json");
        Build = Bicep.Run("build", MainBicep, "--outfile", outFile);
        _template = new Lazy<ArmTemplate>(() =>
        {
            Assert.True(Build.ExitCode == 0 && File.Exists(outFile), $"bicep build failed: {Build}");
            return ArmTemplate.Parse(File.ReadAllText(outFile));
        });
    }

    public static string MainBicep => RepoRoot.Combine("infra", "main.bicep");

    internal BicepResult Build { get; }

    internal ArmTemplate Template => _template.Value;

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }
}
