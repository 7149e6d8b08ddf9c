// Search throughput through the HTTP API on loopback, against the list route in the same run: the
// self-host's composition (AddServerlessMemory, MapMemoryApi) on Kestrel at 127.0.0.1, one user with
// 1,000 memories made from templates (TemplateArchive.cs), and a client in another process: wrk
// (-t2, --latency, a Lua script that takes the paths in turn) when it is installed, else this bench
// itself as a closed-loop client. Three workloads at the same concurrency: the list route (?limit=5),
// one broad question many memories share words with, and 200 distinct questions in turn. For each it
// prints what the server process spent (CPU, GC pauses and collections, lock contentions, bytes
// allocated per request), and then where one broad search's time goes, stage by stage.
// With --embeddings, an in-process OpenAI-compatible endpoint answers embeddings (hashed, 1536-d:
// it measures the service, not a model).
//   dotnet run -c Release --project bench/ServerlessMemory.Bench -- load [--seconds 10] [--concurrency 8] [--embeddings] [--own-client]
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ServerlessMemory.Api;
using ServerlessMemory.Core;

internal static class LoadBench
{
    public static async Task RunAsync(string directory, string[] args)
    {
        var seconds = int.TryParse(Arg(args, "--seconds"), out var s) ? s : 10;
        var concurrency = int.TryParse(Arg(args, "--concurrency"), out var c) ? c : 8;
        var wrk = args.Contains("--own-client") ? null : Which("wrk");
        foreach (var embeddings in args.Contains("--embeddings") ? new[] { false, true } : [false])
            await RunOnceAsync(Path.Combine(directory, $"load-{embeddings}.db"), seconds, concurrency, embeddings, wrk);
    }

    private static async Task RunOnceAsync(string path, int seconds, int concurrency, bool embeddings, string? wrk)
    {
        await using var model = embeddings ? await EmbeddingServer.StartAsync() : null;
        var builder = WebApplication.CreateBuilder();
        builder.Logging.ClearProviders();
        builder.Configuration["Memory:SqlitePath"] = path;
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

        using var http = new HttpClient { BaseAddress = new Uri(url) };
        const string user = "load-user";
        foreach (var memory in TemplateArchive.Memories(1_000))
            (await http.PostAsJsonAsync($"/api/users/{user}/memory/archive", new { content = memory.Content, type = "fact", importance = 0.5 })).EnsureSuccessStatusCode();

        var archive = $"/api/users/{user}/memory/archive";
        (string Name, string[] Paths)[] workloads =
        [
            ("list ?limit=5", [archive + "?limit=5"]),
            ("broad question", [archive + "?query=" + Uri.EscapeDataString(TemplateArchive.BroadQuestion) + "&top=5"]),
            ("200 distinct questions", [.. TemplateArchive.DistinctQuestions().Select(q => archive + "?query=" + Uri.EscapeDataString(q) + "&top=5")]),
        ];
        var mode = embeddings ? "lexical + vectors" : "lexical";
        Console.WriteLine($"load  {mode}: 1,000 memories of one user, concurrency {concurrency}, {seconds} s each, client {(wrk is null ? "this bench in another process" : "wrk -t2")} (load {Load()})");
        double? listRate = null;
        foreach (var (name, paths) in workloads)
        {
            await DriveAsync(wrk, url, paths, concurrency, 2); // warm-up: tiered compilation, caches, connections
            var server = ServerCounters.Start();
            var result = await DriveAsync(wrk, url, paths, concurrency, seconds);
            var spent = server.Stop(result.Requests);
            listRate ??= result.Rate;
            Console.WriteLine($"load  {mode,-17} {name,-23} {result.Rate,8:N0}/s ({result.Rate / listRate.Value:F2}x list)  p50 {result.P50,6:F2} ms  p99 {result.P99,6:F2} ms  errors {result.Errors}; " +
                              $"server {spent}  (load {Load()})");
        }

        await ProfileAsync(app.Services, user, TemplateArchive.BroadQuestion);
        await app.StopAsync();
    }

    /// <summary>Where one search's time goes, stage by stage, in process (median of 2,000 after 2 s of warm-up), for the broad question.</summary>
    private static async Task ProfileAsync(IServiceProvider services, string user, string question)
    {
        var engine = services.GetRequiredService<MemoryEngine>();
        var store = engine.Store;
        var options = engine.Search;
        var warm = Stopwatch.StartNew();
        while (warm.Elapsed < TimeSpan.FromSeconds(2)) await engine.SearchArchiveAsync(user, question, 5);
        var stages = new Dictionary<string, List<double>>();
        void Add(string stage, long start) => (stages.TryGetValue(stage, out var l) ? l : stages[stage] = []).Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
        LexicalMatches matches = LexicalMatches.None;
        for (var i = 0; i < 2_000; i++)
        {
            var t = Stopwatch.GetTimestamp();
            var terms = LexicalTerms.ForQuery(question);
            Add("terms", t);
            t = Stopwatch.GetTimestamp();
            matches = await store.FindLexicalMatchesAsync(user, terms);
            Add("lexical matches (store)", t);
            t = Stopwatch.GetTimestamp();
            var best = ArchiveRanking.Best(matches, options.Candidates, options);
            Add("BM25 over every match", t);
            t = Stopwatch.GetTimestamp();
            await store.ReadArchiveCandidatesAsync(user, [.. best.Select(b => b.Id)], null, options.Candidates);
            Add($"read {best.Count} candidates (store)", t);
            t = Stopwatch.GetTimestamp();
            await engine.SearchArchiveAsync(user, question, 5);
            Add("whole search (engine)", t);
        }
        Console.WriteLine($"load  profile of \"{question}\" in process ({matches.Ids.Count:N0} of {matches.Documents:N0} memories match; median µs): " +
                          string.Join(", ", stages.Select(kv => $"{kv.Key} {kv.Value.Order().ElementAt(kv.Value.Count / 2):F0}")));
    }

    private sealed record Result(double Rate, double P50, double P99, long Requests, long Errors);

    private static Task<Result> DriveAsync(string? wrk, string url, string[] paths, int concurrency, int seconds) =>
        wrk is null ? OwnClientAsync(url, paths, concurrency, seconds) : WrkAsync(wrk, url, paths, concurrency, seconds);

    /// <summary>wrk with a Lua script that takes the paths in turn; its report parsed.</summary>
    private static async Task<Result> WrkAsync(string wrk, string url, string[] paths, int concurrency, int seconds)
    {
        var list = Path.GetTempFileName();
        var script = Path.ChangeExtension(Path.GetTempFileName(), ".lua");
        await File.WriteAllLinesAsync(list, paths);
        await File.WriteAllTextAsync(script, $$"""
            local paths = {}
            for line in io.lines("{{list}}") do paths[#paths + 1] = line end
            local i = math.random(#paths)
            request = function()
              i = i % #paths + 1
              return wrk.format("GET", paths[i])
            end
            """);
        try
        {
            var output = await RunProcessAsync(wrk, ["-t2", $"-c{concurrency}", $"-d{seconds}s", "--latency", "-s", script, url]);
            double Latency(string p) => Regex.Match(output, $@"^\s*{p}%\s+([\d.]+)(us|ms|s)\s*$", RegexOptions.Multiline) is { Success: true } m
                ? double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) * (m.Groups[2].Value switch { "us" => 0.001, "ms" => 1, _ => 1000 })
                : double.NaN;
            var requests = long.Parse(Regex.Match(output, @"(\d+) requests in").Groups[1].Value, CultureInfo.InvariantCulture);
            var rate = double.Parse(Regex.Match(output, @"Requests/sec:\s+([\d.]+)").Groups[1].Value, CultureInfo.InvariantCulture);
            var errors = Regex.Match(output, @"Non-2xx or 3xx responses: (\d+)") is { Success: true } e ? long.Parse(e.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
            return new(rate, Latency("50"), Latency("99"), requests, errors);
        }
        finally
        {
            File.Delete(list);
            File.Delete(script);
        }
    }

    /// <summary>This bench as a closed-loop client in another process (<c>load-client</c>), for a machine without wrk.</summary>
    private static async Task<Result> OwnClientAsync(string url, string[] paths, int concurrency, int seconds)
    {
        var list = Path.GetTempFileName();
        await File.WriteAllLinesAsync(list, paths);
        try
        {
            var self = Environment.ProcessPath!;
            string[] prefix = Path.GetFileNameWithoutExtension(self) == "dotnet" ? [typeof(LoadBench).Assembly.Location] : [];
            var output = await RunProcessAsync(self, [.. prefix, "load-client", url, list, concurrency.ToString(CultureInfo.InvariantCulture), seconds.ToString(CultureInfo.InvariantCulture)]);
            var f = output.Trim().Split(' ').Select(x => double.Parse(x, CultureInfo.InvariantCulture)).ToArray();
            return new(f[0], f[1], f[2], (long)f[3], (long)f[4]);
        }
        finally { File.Delete(list); }
    }

    /// <summary>The client side of <see cref="OwnClientAsync"/>: prints "rate p50 p99 requests errors".</summary>
    public static async Task ClientAsync(string[] args)
    {
        var (url, paths, concurrency, seconds) = (args[1], await File.ReadAllLinesAsync(args[2]), int.Parse(args[3], CultureInfo.InvariantCulture), int.Parse(args[4], CultureInfo.InvariantCulture));
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = concurrency }) { BaseAddress = new Uri(url) };
        var until = Stopwatch.GetTimestamp() + Stopwatch.Frequency * seconds;
        var latencies = new List<double>[concurrency];
        var errors = 0;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async c =>
        {
            var mine = latencies[c] = [];
            var n = c * 7;
            while (Stopwatch.GetTimestamp() < until)
            {
                var start = Stopwatch.GetTimestamp();
                using var response = await http.GetAsync(paths[n++ % paths.Length]);
                await response.Content.ReadAsByteArrayAsync();
                if (!response.IsSuccessStatusCode) Interlocked.Increment(ref errors);
                mine.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            }
        }));
        var all = latencies.SelectMany(l => l).Order().ToList();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{all.Count / clock.Elapsed.TotalSeconds} {P(all, 50)} {P(all, 99)} {all.Count} {errors}"));
    }

    /// <summary>What the server process spent over a run: CPU, GC pauses and collections, lock contentions, allocations.</summary>
    private sealed class ServerCounters
    {
        private TimeSpan _cpu, _pause;
        private int _gen0, _gen1, _gen2;
        private long _contentions, _allocated;

        public static ServerCounters Start() => new()
        {
            _cpu = Process.GetCurrentProcess().TotalProcessorTime, _pause = GC.GetTotalPauseDuration(),
            _gen0 = GC.CollectionCount(0), _gen1 = GC.CollectionCount(1), _gen2 = GC.CollectionCount(2),
            _contentions = Monitor.LockContentionCount, _allocated = GC.GetTotalAllocatedBytes(),
        };

        public string Stop(long requests)
        {
            var n = Math.Max(1, requests);
            return string.Create(CultureInfo.InvariantCulture,
                $"CPU {(Process.GetCurrentProcess().TotalProcessorTime - _cpu).TotalMilliseconds / n:F3} ms/request, " +
                $"GC pauses {(GC.GetTotalPauseDuration() - _pause).TotalMilliseconds:F0} ms (gen0 {GC.CollectionCount(0) - _gen0}, gen1 {GC.CollectionCount(1) - _gen1}, gen2 {GC.CollectionCount(2) - _gen2}), " +
                $"lock contentions {Monitor.LockContentionCount - _contentions}, {(GC.GetTotalAllocatedBytes() - _allocated) / 1024.0 / n:F1} KB allocated/request");
        }
    }

    private static async Task<string> RunProcessAsync(string file, string[] arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0) throw new InvalidOperationException($"{file} exited {process.ExitCode}: {await error}");
        return await output;
    }

    private static string? Which(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, program)).FirstOrDefault(File.Exists);

    private static string Load() => File.ReadAllText("/proc/loadavg").Split(' ')[0];

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
