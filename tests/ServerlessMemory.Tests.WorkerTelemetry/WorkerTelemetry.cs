using System.Collections;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace ServerlessMemory.Tests.WorkerTelemetry;

/// <summary>
/// Adds OpenTelemetry's in-memory exporter to the app's tracer and meter providers as the app builds
/// its host, and writes each exported span and metric as a JSON line to a file. It adds no source and
/// no meter: what reaches the file is what the app's own OpenTelemetry setup collects.
/// </summary>
public static class WorkerTelemetry
{
    /// <summary>The file the exported telemetry goes to, one JSON object per line.</summary>
    public const string FileVariable = "SERVERLESSMEMORY_TEST_TELEMETRY_FILE";

    internal static void Start(string file) => DiagnosticListener.AllListeners.Subscribe(new HostBuildingObserver(new TelemetryFile(file)));

    /// <summary>
    /// <c>HostApplicationBuilder.Build</c> announces <c>HostBuilding</c> on the <c>Microsoft.Extensions.Hosting</c>
    /// listener before it builds the service provider (what <c>WebApplicationFactory</c> uses for top-level
    /// programs). <c>FunctionsApplicationBuilder.Build</c> builds through one, which announces its host builder adapter.
    /// </summary>
    private sealed class HostBuildingObserver(TelemetryFile file) : IObserver<DiagnosticListener>, IObserver<KeyValuePair<string, object?>>
    {
        public void OnNext(DiagnosticListener value)
        {
            if (value.Name == "Microsoft.Extensions.Hosting") value.Subscribe(this);
        }

        public void OnNext(KeyValuePair<string, object?> value)
        {
            if (value.Key != "HostBuilding") return;
            // The builder itself, or (FunctionsApplicationBuilder's case) its IHostBuilder adapter, whose callbacks run after this.
            if (value.Value is IHostApplicationBuilder builder) AddExporters(builder.Services);
            else if (value.Value is IHostBuilder hostBuilder) hostBuilder.ConfigureServices((_, services) => AddExporters(services));
        }

        private void AddExporters(IServiceCollection services)
        {
            services.AddOpenTelemetry()
                .WithTracing(t => t.AddInMemoryExporter(new Sink<Activity>(file.Write)))
                .WithMetrics(m => m.AddInMemoryExporter(new Sink<MetricSnapshot>(file.Write),
                    reader => reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = 250));
            Console.Error.WriteLine("[telemetry hook] in-memory exporter added to the app's OpenTelemetry");
        }

        public void OnCompleted() { }

        public void OnError(Exception error) { }
    }

    /// <summary>The exporter's collection: each item it adds goes to the file.</summary>
    private sealed class Sink<T>(Action<T> write) : ICollection<T>
    {
        public int Count => 0;

        public bool IsReadOnly => false;

        public void Add(T item) => write(item);

        public void Clear() { }

        public bool Contains(T item) => false;

        public void CopyTo(T[] array, int arrayIndex) { }

        public bool Remove(T item) => false;

        public IEnumerator<T> GetEnumerator() => Enumerable.Empty<T>().GetEnumerator();

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }

    private sealed class TelemetryFile(string path)
    {
        private readonly Lock _lock = new();

        public void Write(Activity span) => Append(new JsonObject
        {
            ["type"] = "span",
            ["source"] = span.Source.Name,
            ["name"] = span.OperationName,
            ["displayName"] = span.DisplayName,
            ["kind"] = span.Kind.ToString(),
            ["traceId"] = span.TraceId.ToHexString(),
            ["spanId"] = span.SpanId.ToHexString(),
            ["parentSpanId"] = span.ParentSpanId.ToHexString(),
            ["status"] = span.Status.ToString(),
            ["tags"] = Tags(span.TagObjects),
            ["events"] = new JsonArray([.. span.Events.Select(e => (JsonNode)new JsonObject { ["name"] = e.Name, ["tags"] = Tags(e.Tags) })]),
        });

        public void Write(MetricSnapshot metric)
        {
            var points = new JsonArray();
            foreach (var point in metric.MetricPoints)
            {
                var tags = new List<KeyValuePair<string, object?>>();
                foreach (var tag in point.Tags) tags.Add(tag);
                var value = new JsonObject { ["tags"] = Tags(tags) };
                switch (metric.MetricType)
                {
                    case MetricType.Histogram or MetricType.ExponentialHistogram:
                        value["sum"] = point.GetHistogramSum();
                        value["count"] = point.GetHistogramCount();
                        break;
                    case MetricType.LongSum or MetricType.LongSumNonMonotonic:
                        value["sum"] = point.GetSumLong();
                        break;
                    case MetricType.DoubleSum or MetricType.DoubleSumNonMonotonic:
                        value["sum"] = point.GetSumDouble();
                        break;
                    case MetricType.LongGauge:
                        value["gauge"] = point.GetGaugeLastValueLong();
                        break;
                    case MetricType.DoubleGauge:
                        value["gauge"] = point.GetGaugeLastValueDouble();
                        break;
                }
                points.Add(value);
            }
            Append(new JsonObject { ["type"] = "metric", ["meter"] = metric.MeterName, ["name"] = metric.Name, ["unit"] = metric.Unit, ["points"] = points });
        }

        private static JsonObject Tags(IEnumerable<KeyValuePair<string, object?>> tags)
        {
            var json = new JsonObject();
            foreach (var (key, value) in tags)
            {
                json[key] = value switch
                {
                    null => null,
                    string s => s,
                    bool b => b,
                    int i => i,
                    long l => l,
                    double d => d,
                    IEnumerable sequence => new JsonArray([.. sequence.Cast<object?>().Select(o => (JsonNode?)Convert.ToString(o, System.Globalization.CultureInfo.InvariantCulture))]),
                    _ => Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture),
                };
            }
            return json;
        }

        private void Append(JsonObject line)
        {
            var text = line.ToJsonString() + "\n";
            lock (_lock) File.AppendAllText(path, text);
        }
    }
}
