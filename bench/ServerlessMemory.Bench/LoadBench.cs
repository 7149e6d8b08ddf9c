// Search throughput through the HTTP API on loopback: the self-host's composition (AddServerlessMemory,
// MapMemoryApi) on Kestrel at 127.0.0.1, one user with 1,000 memories, closed-loop clients at
// concurrency 1, 8 and 32. With --embeddings, an in-process OpenAI-compatible endpoint answers
// embeddings (hashed, 1536-d: it measures the service, not a model).
//   dotnet run -c Release --project bench/ServerlessMemory.Bench -- load [--seconds 10] [--embeddings]
using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ServerlessMemory.Api;

internal static class LoadBench
{
    public static async Task RunAsync(string directory, string[] args)
    {
        var seconds = int.TryParse(Arg(args, "--seconds"), out var s) ? s : 10;
        foreach (var embeddings in args.Contains("--embeddings") ? new[] { false, true } : [false])
            foreach (var interval in new[] { "00:00:01", "00:00:00" })
                await RunOnceAsync(Path.Combine(directory, $"load-{embeddings}-{interval.Replace(':', '-')}.db"), seconds, embeddings, interval);
    }

    private static async Task RunOnceAsync(string path, int seconds, bool embeddings, string flushInterval)
    {
        await using var model = embeddings ? await EmbeddingServer.StartAsync() : null;
        var builder = WebApplication.CreateBuilder();
        builder.Logging.ClearProviders();
        builder.Configuration["Memory:SqlitePath"] = path;
        builder.Configuration["Memory:Accesses:FlushInterval"] = flushInterval;
        builder.Configuration["Decay:Schedule"] = "0 0 0 1 1 *";
        if (model is not null)
        {
            builder.Configuration["Model:Provider"] = "OpenAI";
            builder.Configuration["Model:Endpoint"] = model.Url + "/v1";
            builder.Configuration["Model:ApiKey"] = "bench";
            builder.Configuration["Model:EmbeddingModel"] = "text-embedding-3-small";
            builder.Configuration["Model:EmbeddingDimensions"] = "1536";
        }
        builder.AddServerlessMemory();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var app = builder.Build();
        app.MapMemoryApi();
        await app.StartAsync();
        var url = app.Urls.First();

        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64 }) { BaseAddress = new Uri(url) };
        const string user = "load-user";
        var random = new Random(5);
        for (var i = 0; i < 1_000; i++)
        {
            var response = await http.PostAsJsonAsync($"/api/users/{user}/memory/archive", new { content = Sentence(random, i), type = "preference", importance = 0.7 });
            response.EnsureSuccessStatusCode();
        }
        var queries = Enumerable.Range(0, 200).Select(i => Uri.EscapeDataString(Sentence(random, random.Next(1_000)).Split(' ')[random.Next(3)] + " " + Words[random.Next(Words.Length)])).ToArray();

        foreach (var concurrency in new[] { 1, 8, 32 })
        {
            var until = Stopwatch.GetTimestamp() + Stopwatch.Frequency * seconds;
            var latencies = new List<double>[concurrency];
            var errors = 0;
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var clock = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async c =>
            {
                var mine = latencies[c] = [];
                var n = c;
                while (Stopwatch.GetTimestamp() < until)
                {
                    var start = Stopwatch.GetTimestamp();
                    using var response = await http.GetAsync($"/api/users/{user}/memory/archive?query={queries[n++ % queries.Length]}&top=5");
                    await response.Content.ReadAsByteArrayAsync();
                    if (!response.IsSuccessStatusCode) Interlocked.Increment(ref errors);
                    mine.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                }
            }));
            clock.Stop();
            var all = latencies.SelectMany(l => l).Order().ToList();
            // CPU per search, server and client together: what the figure would be on idle cores.
            var cpuMs = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds / Math.Max(1, all.Count);
            Console.WriteLine($"load  {(embeddings ? "lexical + vectors" : "lexical"),-17} accesses {(flushInterval == "00:00:00" ? "with each search" : "coalesced (1 s)"),-17} " +
                              $"concurrency {concurrency,2}: {all.Count / clock.Elapsed.TotalSeconds,7:N0} searches/s  p50 {P(all, 50),6:F2} ms  p99 {P(all, 99),7:F2} ms  " +
                              $"errors {errors}; CPU {cpuMs:F2} ms/search (client included: {Environment.ProcessorCount * 1000 / cpuMs:N0}/s on {Environment.ProcessorCount} idle cores)  (load {File.ReadAllText("/proc/loadavg").Split(' ')[0]})");
        }
        await app.StopAsync();
    }

    private static readonly string[] Words = ["python", "churn", "model", "weekend", "hiking", "coffee", "project", "meeting", "travel", "family", "music", "report"];

    private static string Sentence(Random random, int seed)
    {
        var r = new Random(seed);
        return string.Join(' ', Enumerable.Range(0, 10).Select(_ => Words[r.Next(Words.Length)] + (r.Next(4) == 0 ? "s" : ""))) + $" #{seed} {random.Next(100)}";
    }

    private static double P(List<double> sorted, double p) => sorted.Count == 0 ? 0 : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p / 100 * sorted.Count) - 1)];

    private static string? Arg(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}

/// <summary>An OpenAI-compatible embeddings endpoint on loopback: each text hashed into a deterministic 1536-d vector.</summary>
internal sealed class EmbeddingServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private EmbeddingServer(WebApplication app) => _app = app;
    public string Url => _app.Urls.First();

    public static async Task<EmbeddingServer> StartAsync()
    {
        var builder = WebApplication.CreateBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var embeddings = new RandomEmbeddings(1536);
        app.MapPost("/v1/embeddings", async (HttpContext context) =>
        {
            var body = (await JsonNode.ParseAsync(context.Request.Body))!;
            var inputs = body["input"] is JsonArray array ? array.Select(i => (string)i!).ToList() : [(string)body["input"]!];
            var base64 = (string?)body["encoding_format"] == "base64";
            var data = new JsonArray();
            for (var i = 0; i < inputs.Count; i++)
            {
                var v = embeddings.Vector(inputs[i]);
                data.Add(new JsonObject
                {
                    ["object"] = "embedding", ["index"] = i,
                    ["embedding"] = base64 ? Convert.ToBase64String(System.Runtime.InteropServices.MemoryMarshal.AsBytes(v.AsSpan())) : new JsonArray([.. v.Select(x => (JsonNode)x)]),
                });
            }
            return Results.Json(new JsonObject { ["object"] = "list", ["data"] = data, ["model"] = "text-embedding-3-small", ["usage"] = new JsonObject { ["prompt_tokens"] = 1, ["total_tokens"] = 1 } });
        });
        await app.StartAsync();
        return new EmbeddingServer(app);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
