using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using Scalar.AspNetCore;
using ServerlessMemory.Api;
using ServerlessMemory.Server;

var builder = WebApplication.CreateBuilder(args);
builder.AddServerlessMemory();
builder.Services.AddMemoryOpenApi();
builder.Services.AddHostedService<DecaySweepService>();
builder.Services.AddHostedService<VectorBackfillService>();
var listen = builder.WebHost.UseLoopbackUnlessKeyed(builder.Configuration);

var telemetry = builder.AddMemoryTelemetry()
    .WithTracing(t => t.AddAspNetCoreInstrumentation(o => o.EnrichWithHttpResponse = HostingExtensions.RedactPath))
    .WithMetrics(m => m.AddAspNetCoreInstrumentation());
if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
    telemetry.UseOtlpExporter(); // traces, metrics and logs to the collector the standard OTEL_* variables name

var app = builder.Build();
app.UseServerlessMemoryErrors();
app.MapMemoryApi();
// The interactive reference over /api/openapi.json, in the self-host only.
app.MapScalarApiReference("/api/docs", options => options.AddDocument("v1", "ServerlessMemory", "/api/openapi.json"));
app.ReportAddresses(listen);
return app.RunServerlessMemory();

public partial class Program;
