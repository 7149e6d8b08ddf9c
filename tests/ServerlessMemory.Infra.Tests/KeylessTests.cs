using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace ServerlessMemory.Infra.Tests;

/// <summary>Nothing in the deployment holds or reads a key: every service is reached by identity.</summary>
public sealed partial class KeylessTests(CompiledTemplate compiled) : IClassFixture<CompiledTemplate>
{
    private static readonly string[] s_secretMarkers =
        ["AccountKey", "SharedAccessKey", "SharedAccessSignature", "Password", "DefaultEndpointsProtocol", "InstrumentationKey="];

    [Fact]
    public void No_resource_or_output_reads_keys_or_connection_strings()
    {
        var calls = ListFunction().Matches(compiled.Template.Text).Select(match => match.Value).Distinct().ToList();

        Assert.True(calls.Count == 0, $"The template calls {string.Join(", ", calls)}.");
        var outputs = compiled.Template.Root["outputs"]?.AsObject().Select(output => output.Key) ?? [];
        Assert.DoesNotContain(outputs, name =>
            name.Contains("KEY", StringComparison.OrdinalIgnoreCase) ||
            name.Contains("SECRET", StringComparison.OrdinalIgnoreCase) ||
            name.Contains("PASSWORD", StringComparison.OrdinalIgnoreCase) ||
            name.Contains("CONNECTION", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public void App_settings_hold_no_connection_string_or_account_key()
    {
        var settings = AppSettings();

        Assert.DoesNotContain("AzureWebJobsStorage", settings.Keys);
        foreach (var (name, value) in settings)
        {
            var text = ArmTemplate.AsText(value);
            Assert.DoesNotContain(s_secretMarkers, marker => text.Contains(marker, StringComparison.OrdinalIgnoreCase));
            if (name.Contains("CONNECTION_STRING", StringComparison.OrdinalIgnoreCase) ||
                name.Contains("ConnectionString", StringComparison.OrdinalIgnoreCase))
            {
                // Application Insights' connection string only routes telemetry: with local auth off
                // it grants nothing, and ingestion needs the identity of APPLICATIONINSIGHTS_AUTHENTICATION_STRING.
                Assert.Equal("APPLICATIONINSIGHTS_CONNECTION_STRING", name);
                Assert.Equal(true, (bool?)compiled.Template.Single("Microsoft.Insights/components").Properties?["DisableLocalAuth"]);
            }
        }
    }

    [Fact]
    public void App_settings_reach_storage_and_telemetry_by_identity()
    {
        var settings = AppSettings();

        Assert.Equal("managedidentity", (string?)settings["AzureWebJobsStorage__credential"]);
        foreach (var name in new[]
                 {
                     "AzureWebJobsStorage__clientId", "AzureWebJobsStorage__blobServiceUri",
                     "AzureWebJobsStorage__queueServiceUri", "AzureWebJobsStorage__tableServiceUri", "AZURE_CLIENT_ID",
                 })
        {
            Assert.True(settings.ContainsKey(name), $"App setting {name} is missing.");
        }

        Assert.Contains("Authorization=AAD", (string?)settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] ?? "", StringComparison.Ordinal);
        Assert.Contains("ClientId=", (string?)settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] ?? "", StringComparison.Ordinal);
    }

    [Fact]
    public void App_settings_use_the_names_of_the_api_contract()
    {
        var settings = AppSettings();

        Assert.Equal("Cosmos", (string?)settings["Memory__Store"]);
        Assert.Equal("AzureOpenAI", (string?)settings["Model__Provider"]);
        Assert.Equal(Cosmos.MemoryContainer.DefaultDatabase, (string?)settings["Cosmos__Database"]);
        Assert.Equal(Cosmos.MemoryContainer.DefaultContainer, (string?)settings["Cosmos__Container"]);
        Assert.Equal("0 0 * * * *", (string?)settings["Decay__Schedule"]);
        foreach (var name in new[]
                 {
                     "Cosmos__Endpoint", "Model__Endpoint", "Model__ChatModel", "Model__ExtractionModel",
                     "Model__EmbeddingModel", "Model__EmbeddingDimensions",
                 })
        {
            Assert.True(settings.ContainsKey(name), $"App setting {name} is missing.");
        }

        Assert.DoesNotContain("Cosmos__Key", settings.Keys);
        Assert.DoesNotContain("Model__ApiKey", settings.Keys);
    }

    [Fact]
    public void Cosmos_openai_storage_and_telemetry_accept_no_local_keys()
    {
        var cosmos = compiled.Template.Single("Microsoft.DocumentDB/databaseAccounts").Properties;
        var openAi = compiled.Template.Single("Microsoft.CognitiveServices/accounts");
        var storage = compiled.Template.Single("Microsoft.Storage/storageAccounts").Properties;
        var insights = compiled.Template.Single("Microsoft.Insights/components").Properties;

        Assert.Equal(true, (bool?)cosmos?["disableLocalAuth"]);
        Assert.Equal(true, (bool?)openAi.Properties?["disableLocalAuth"]);
        Assert.Equal("OpenAI", (string?)openAi.Json["kind"]);
        Assert.NotNull(openAi.Properties?["customSubDomainName"]);
        Assert.Equal(false, (bool?)storage?["allowSharedKeyAccess"]);
        Assert.Equal(true, (bool?)insights?["DisableLocalAuth"]);
    }

    [Fact]
    public void Cosmos_account_is_serverless_with_vector_search_and_no_unused_capability()
    {
        var capabilities = compiled.Template.Single("Microsoft.DocumentDB/databaseAccounts").Properties?["capabilities"]?.AsArray()
            .Select(capability => (string?)capability?["name"]).ToList() ?? [];

        Assert.Contains("EnableServerless", capabilities);
        Assert.Contains("EnableNoSQLVectorSearch", capabilities);
        Assert.DoesNotContain("EnableNoSQLFullTextSearch", capabilities);
    }

    [Fact]
    public void Function_app_runs_dotnet_isolated_10_on_flex_consumption_under_its_identity()
    {
        var plan = compiled.Template.Single("Microsoft.Web/serverfarms");
        var app = compiled.Template.Single("Microsoft.Web/sites");
        var config = app.Properties?["functionAppConfig"];

        Assert.Equal("FC1", (string?)plan.Json["sku"]?["name"]);
        Assert.Equal("dotnet-isolated", (string?)config?["runtime"]?["name"]);
        Assert.Equal("10.0", (string?)config?["runtime"]?["version"]);
        Assert.Equal("blobContainer", (string?)config?["deployment"]?["storage"]?["type"]);
        Assert.Equal("UserAssignedIdentity", (string?)config?["deployment"]?["storage"]?["authentication"]?["type"]);
        Assert.Equal("UserAssigned", (string?)app.Json["identity"]?["type"]);
        Assert.Contains("azd-service-name", ArmTemplate.AsText(app.Json["tags"]), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("5e0bd9bd-7b93-4f28-af87-19fc36ad61bd")] // Cognitive Services OpenAI User
    [InlineData("b7e6dc6d-f1e8-4753-8033-0f276bb0955b")] // Storage Blob Data Owner
    [InlineData("3913510d-42f4-4e42-8a64-420c390055eb")] // Monitoring Metrics Publisher
    public void Identity_is_granted_its_roles_by_assignments_named_with_guid(string roleId)
    {
        // The role ids sit in each module's variables; an assignment of the module picks them up.
        var assignments = compiled.Template.OfType("Microsoft.Authorization/roleAssignments")
            .Where(assignment => ArmTemplate.AsText(assignment.Scope.Template).Contains(roleId, StringComparison.Ordinal))
            .ToList();

        Assert.NotEmpty(assignments);
        Assert.All(assignments, assignment =>
        {
            Assert.StartsWith("[guid(", assignment.Name, StringComparison.Ordinal);
            Assert.Contains("roleDefinitions", ArmTemplate.AsText(assignment.Json["properties"]?["roleDefinitionId"]), StringComparison.Ordinal);
        });
    }

    [Fact]
    public void Identity_is_a_cosmos_data_contributor_through_a_sql_role_assignment()
    {
        var assignment = compiled.Template.Single("Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments");

        Assert.Contains("00000000-0000-0000-0000-000000000002", ArmTemplate.AsText(assignment.Scope.Template), StringComparison.Ordinal);
        Assert.Contains("sqlRoleDefinitions", ArmTemplate.AsText(assignment.Json["properties"]?["roleDefinitionId"]), StringComparison.Ordinal);
        Assert.Contains("guid(", assignment.Name, StringComparison.Ordinal);
    }

    [Fact]
    public void Model_deployments_are_created_one_after_another()
    {
        var deployments = compiled.Template.OfType("Microsoft.CognitiveServices/accounts/deployments").ToList();

        Assert.Equal(3, deployments.Count);
        Assert.Equal(
            ["chatModel", "extractionModel", "embeddingModel"],
            deployments.Select(deployment => ModelParameter().Match(deployment.Name).Groups[1].Value));
        Assert.Contains("chatModel", DependsOn(deployments[1]), StringComparison.Ordinal);
        Assert.Contains("extractionModel", DependsOn(deployments[2]), StringComparison.Ordinal);
    }

    private static string DependsOn(ArmResource resource) => ArmTemplate.AsText(resource.Json["dependsOn"]);

    private Dictionary<string, JsonNode?> AppSettings()
    {
        var config = compiled.Template.OfType("Microsoft.Web/sites/config")
            .Single(resource => resource.Name.Contains("appsettings", StringComparison.Ordinal));
        var settings = config.Properties?.AsObject() ?? throw new InvalidDataException("The app settings are not an object.");
        var inSiteConfig = compiled.Template.Single("Microsoft.Web/sites").Properties?["siteConfig"]?["appSettings"];
        Assert.True(inSiteConfig is null, "App settings belong in the appsettings config resource only.");
        return settings.ToDictionary(setting => setting.Key, setting => setting.Value);
    }

    [GeneratedRegex(@"\blist[A-Za-z]*\(")]
    private static partial Regex ListFunction();

    [GeneratedRegex(@"parameters\('(\w+Model)'\)")]
    private static partial Regex ModelParameter();
}
