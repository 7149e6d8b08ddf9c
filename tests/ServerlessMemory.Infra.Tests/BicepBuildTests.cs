namespace ServerlessMemory.Infra.Tests;

public sealed class BicepBuildTests(CompiledTemplate compiled) : IClassFixture<CompiledTemplate>
{
    [Fact]
    public void Main_template_builds_without_warnings_or_errors()
    {
        Assert.True(compiled.Build.ExitCode == 0, compiled.Build.ToString());
        Assert.DoesNotContain("Warning", compiled.Build.Output, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("Error", compiled.Build.Output, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Main_template_lints_without_warnings_or_errors()
    {
        var lint = Bicep.Run("lint", CompiledTemplate.MainBicep);

        Assert.True(lint.ExitCode == 0, lint.ToString());
        Assert.DoesNotContain("Warning", lint.Output, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("Error", lint.Output, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Main_template_deploys_at_subscription_scope_and_creates_the_resource_group()
    {
        var schema = (string?)compiled.Template.Root["$schema"] ?? "";

        Assert.Contains("subscriptionDeploymentTemplate", schema, StringComparison.Ordinal);
        var group = compiled.Template.Single("Microsoft.Resources/resourceGroups");
        Assert.Contains("azd-env-name", group.Resolve(group.Json["tags"])?.AsObject().Select(tag => tag.Key) ?? []);
        Assert.NotNull(compiled.Template.Root["parameters"]?["environmentName"]);
        Assert.NotNull(compiled.Template.Root["parameters"]?["location"]);
    }
}
