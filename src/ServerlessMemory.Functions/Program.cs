using Azure.Identity;
using Azure.Monitor.OpenTelemetry.Exporter;
using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Azure.Functions.Worker.OpenTelemetry;
using Microsoft.Extensions.Hosting;
using ServerlessMemory.Api;

var builder = FunctionsApplication.CreateBuilder(args);
builder.ConfigureFunctionsWebApplication();
builder.AddServerlessMemory();

// OpenTelemetry, as the Functions guidance has it (host.json "telemetryMode": "OpenTelemetry"):
// the worker's spans joined to the host's, the service's own, exported to Application Insights.
var telemetry = builder.AddMemoryTelemetry().UseFunctionsWorkerDefaults();
if (!string.IsNullOrWhiteSpace(builder.Configuration["APPLICATIONINSIGHTS_CONNECTION_STRING"]))
{
    telemetry.UseAzureMonitorExporter(o =>
    {
        // Local auth is off on the resource: infra names the managed identity in APPLICATIONINSIGHTS_AUTHENTICATION_STRING.
        var auth = builder.Configuration["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] ?? "";
        var clientId = auth.Split(';').Select(p => p.Split('=', 2)).FirstOrDefault(p => p.Length == 2 && p[0] == "ClientId")?[1];
        if (auth.Contains("Authorization=AAD", StringComparison.OrdinalIgnoreCase))
            o.Credential = clientId is null ? new DefaultAzureCredential() : new ManagedIdentityCredential(ManagedIdentityId.FromUserAssignedClientId(clientId));
    });
}
return builder.Build().RunServerlessMemory();
