using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using ServerlessMemory.Core;

namespace ServerlessMemory.Api;

/// <summary>Section <c>Telemetry</c>.</summary>
public sealed class TelemetryOptions
{
    /// <summary>Prompts and answers in the model spans (Microsoft.Extensions.AI's sensitive data). Off: no user content in telemetry.</summary>
    public bool IncludeContent { get; set; }
}

public static class TelemetryExtensions
{
    /// <summary>
    /// OpenTelemetry for both hosts: the service's own spans and metrics (turns, store calls, model
    /// calls through Microsoft.Extensions.AI with the GenAI conventions, on one source). Each host
    /// adds its request instrumentation and exporter.
    /// </summary>
    public static IOpenTelemetryBuilder AddMemoryTelemetry(this IHostApplicationBuilder builder) =>
        builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService("serverless-memory"))
            .WithTracing(t => t.AddSource(MemoryTelemetry.Name))
            .WithMetrics(m => m.AddMeter(MemoryTelemetry.Name));
}
