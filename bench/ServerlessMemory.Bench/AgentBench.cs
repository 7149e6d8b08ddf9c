using System.Diagnostics;
using Microsoft.Agents.AI;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ServerlessMemory.AgentFramework;
using ServerlessMemory.Api;
using ServerlessMemory.Client;
using ServerlessMemory.Core;
using ArchiveItem = ServerlessMemory.Core.ArchiveItem;

/// <summary>
/// What the Agent Framework memory provider costs an agent run: requests to the service and the
/// latency it adds besides model time. The agent's model answers at once in process; the service
/// is the real API (AddServerlessMemory + MapMemoryApi on Kestrel, SQLite) with 1,000 archive
/// memories, its extraction model an OpenAI-compatible endpoint on loopback that answers at once.
/// </summary>
internal static class AgentBench
{
    public static async Task RunAsync(string directory, bool quick)
    {
        await using var model = await StartAsync(app => app.MapPost("/v1/chat/completions", ExtractionReply), []);
        await using var service = await StartAsync(app => app.MapMemoryApi(), new()
        {
            ["Memory:SqlitePath"] = Path.Combine(directory, "agent.db"),
            ["Model:Provider"] = "OpenAI",
            ["Model:Endpoint"] = Address(model) + "v1",
            ["Model:ApiKey"] = "bench",
            ["Model:EmbeddingModel"] = "",
            ["Decay:Schedule"] = "0 0 0 1 1 *",
        }, memory: true);
        await Seed(service.Services.GetRequiredService<MemoryEngine>(), "bench-user", 1_000);

        var counter = new CountingHandler(new SocketsHttpHandler());
        var memory = new ServerlessMemoryClient(new HttpClient(counter), new ServerlessMemoryClientOptions { BaseAddress = Address(service) });
        var plain = new ChatClientAgent(new InstantModel(), new ChatClientAgentOptions { ChatOptions = new() { Instructions = "You are a helpful assistant." } });
        var withMemory = new ChatClientAgent(new InstantModel(), new ChatClientAgentOptions
        {
            ChatOptions = new() { Instructions = "You are a helpful assistant." },
            AIContextProviders = [new ServerlessMemoryContextProvider(memory, "bench-user")],
        });

        var runs = quick ? 40 : 200;
        var without = new List<double>();
        var with = new List<double>();
        for (var i = 0; i < runs + 20; i++)
        {
            var message = $"run {i}: 我的客户流失预测项目 uses XGBoost and python, what should I try next?";
            var a = await Time(() => plain.RunAsync(message, session: null));
            if (i == 20) counter.Reset();
            var b = await Time(() => withMemory.RunAsync(message, session: null));
            if (i < 20) continue; // warm-up
            without.Add(a);
            with.Add(b);
        }
        var added = with.Zip(without, (w, o) => w - o).ToList();
        Console.WriteLine($"agent  provider cost per run ({runs} runs, 1,000 archive memories, models answering at once): " +
                          $"{(double)counter.Requests / runs:F2} requests ({string.Join(", ", counter.ByPath.OrderBy(p => p.Key).Select(p => $"{p.Key} {(double)p.Value.Count / runs:F2}"))})");
        Console.WriteLine($"agent  run without memory p50 {Percentile(without, 50):F2} ms; with the provider p50 {Percentile(with, 50):F2} ms, p95 {Percentile(with, 95):F2} ms; " +
                          $"added p50 {Percentile(added, 50):F2} ms, p95 {Percentile(added, 95):F2} ms");
        foreach (var (path, times) in counter.ByPath.OrderBy(p => p.Key))
            Console.WriteLine($"agent    {path,-8} request p50 {Percentile(times, 50):F2} ms, p95 {Percentile(times, 95):F2} ms");
    }

    private static async Task<double> Time(Func<Task> run)
    {
        var clock = Stopwatch.StartNew();
        await run();
        return clock.Elapsed.TotalMilliseconds;
    }

    private static IResult ExtractionReply() => Results.Json(new
    {
        id = "chatcmpl-bench",
        @object = "chat.completion",
        created = 0,
        model = "small",
        choices = new[] { new { index = 0, message = new { role = "assistant", content = """{"core":[],"archive":[]}""" }, finish_reason = "stop" } },
        usage = new { prompt_tokens = 100, completion_tokens = 10, total_tokens = 110 },
    });

    private static async Task<WebApplication> StartAsync(Action<WebApplication> map, Dictionary<string, string?> settings, bool memory = false)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        foreach (var (key, value) in settings) builder.Configuration[key] = value;
        if (memory) builder.AddServerlessMemory();
        var app = builder.Build();
        map(app);
        await app.StartAsync();
        return app;
    }

    private static Uri Address(WebApplication app) =>
        new(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/");

    private static async Task Seed(MemoryEngine engine, string user, int count)
    {
        var random = new Random(7);
        string[] words = ["客户", "流失", "预测", "项目", "XGBoost", "python", "data", "model", "feature", "team", "deadline", "CRM", "tea", "travel"];
        var now = engine.Now();
        var items = Enumerable.Range(0, count).Select(i =>
        {
            var content = $"memory {i}: " + string.Join(' ', Enumerable.Range(0, 8).Select(_ => words[random.Next(words.Length)]));
            var item = new ArchiveItem
            {
                Id = LexicalTerms.ContentHash(content), Content = content, Importance = random.NextDouble(),
                CreatedAt = now.AddMinutes(-i), EnteredAt = now.AddMinutes(-i), LastAccessedAt = now.AddMinutes(-i),
            };
            return item with { ForgetAt = engine.Decay.ForgetAt(item) };
        }).ToList();
        await engine.Store.CommitAsync(user, new MemoryChangeSet { ArchiveAdds = items });
    }

    private static double Percentile(List<double> values, double p)
    {
        var sorted = values.Order().ToList();
        return sorted[(int)Math.Clamp(Math.Ceiling(p / 100 * sorted.Count) - 1, 0, sorted.Count - 1)];
    }

    /// <summary>The agent's model: answers at once, so that a run's time is the framework's and the provider's.</summary>
    private sealed class InstantModel : IChatClient
    {
        public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "Try target encoding and tune the learning rate.")));

        public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public object? GetService(Type serviceType, object? serviceKey = null) => null;

        public void Dispose() { }
    }

    /// <summary>Counts and times the client's requests by route (its last path segment).</summary>
    private sealed class CountingHandler(HttpMessageHandler inner) : DelegatingHandler(inner)
    {
        public int Requests { get; private set; }

        public Dictionary<string, List<double>> ByPath { get; } = [];

        public void Reset()
        {
            Requests = 0;
            ByPath.Clear();
        }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var clock = Stopwatch.StartNew();
            var response = await base.SendAsync(request, cancellationToken);
            var path = request.RequestUri!.Segments[^1].Trim('/');
            lock (ByPath)
            {
                Requests++;
                (ByPath.TryGetValue(path, out var times) ? times : ByPath[path] = []).Add(clock.Elapsed.TotalMilliseconds);
            }
            return response;
        }
    }
}
