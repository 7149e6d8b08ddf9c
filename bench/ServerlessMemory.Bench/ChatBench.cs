using System.Diagnostics;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using ServerlessMemory.Core;
using ServerlessMemory.Sqlite;

/// <summary>
/// Chat turns through the real engine and store, with a scripted model in process: turn latency of
/// this design against the seed's sequential one, per-turn overhead besides model time with 10k
/// archive memories, and prompt size at turn 10 against turn 1,000.
/// </summary>
internal static class ChatBench
{
    public static async Task RunAsync(string directory, bool quick)
    {
        // 1. Latency: main call 800 ms, extraction 400 ms, the same turns both ways.
        var turns = quick ? 5 : 15;
        var concurrent = await Latency(Path.Combine(directory, "chat-c.db"), sequential: false, turns);
        var sequential = await Latency(Path.Combine(directory, "chat-s.db"), sequential: true, turns);
        Console.WriteLine($"chat   turn latency, main 800 ms + extraction 400 ms: this design p50 {Median(concurrent):F0} ms, " +
                          $"seed's sequential p50 {Median(sequential):F0} ms: {Median(concurrent) / Median(sequential):F2}x");

        // 2. Overhead besides model time, 10k archive memories, models answering at once.
        var (engine, store) = Engine(Path.Combine(directory, "chat-o.db"));
        await Seed(store, engine, quick ? 1_000 : 10_000);
        var model = new ScriptedModel(TimeSpan.Zero, TimeSpan.Zero);
        var agent = Agent(engine, model, sequential: false);
        var times = new List<double>();
        for (var i = 0; i < (quick ? 50 : 200); i++)
        {
            var clock = Stopwatch.StartNew();
            await agent.RunAsync("bench-user", "s", $"turn {i}: 我的客户流失预测项目 uses XGBoost and python, what next?");
            times.Add(clock.Elapsed.TotalMilliseconds);
        }
        times = times.Skip(10).ToList();
        Console.WriteLine($"chat   overhead per turn besides model time, {(quick ? 1_000 : 10_000):N0} archive memories: " +
                          $"p50 {Percentile(times, 50):F2} ms  p95 {Percentile(times, 95):F2} ms");

        // 3. Prompt size over a long conversation.
        var (longEngine, _) = Engine(Path.Combine(directory, "chat-l.db"));
        var counting = new ScriptedModel(TimeSpan.Zero, TimeSpan.Zero);
        var longAgent = Agent(longEngine, counting, sequential: false);
        var last = quick ? 200 : 1_000;
        for (var i = 1; i <= last; i++)
            await longAgent.RunAsync("talker", "s", $"turn {i}: here is what happened today, with a few details about work and family.");
        Console.WriteLine($"chat   prompt tokens at turn 10: {counting.MainPromptTokens[9]}, at turn {last:N0}: {counting.MainPromptTokens[last - 1]} " +
                          $"({(double)counting.MainPromptTokens[last - 1] / counting.MainPromptTokens[9]:F2}x); max over the run {counting.MainPromptTokens.Max()}");
    }

    private static async Task<List<double>> Latency(string path, bool sequential, int turns)
    {
        var (engine, _) = Engine(path);
        var agent = Agent(engine, new ScriptedModel(TimeSpan.FromMilliseconds(800), TimeSpan.FromMilliseconds(400)), sequential);
        var times = new List<double>();
        for (var i = 0; i < turns; i++)
        {
            var clock = Stopwatch.StartNew();
            await agent.RunAsync("latency", "s", $"I'm working on project {i} with XGBoost");
            times.Add(clock.Elapsed.TotalMilliseconds);
        }
        return times;
    }

    private static (MemoryEngine, SqliteMemoryStore) Engine(string path)
    {
        var store = new SqliteMemoryStore(path);
        return (new MemoryEngine(store, Options.Create(new DecayOptions()), Options.Create(new MemoryLimits()), Options.Create(new SearchOptions()),
            TimeProvider.System, NullLogger<MemoryEngine>.Instance), store);
    }

    private static ChatAgent Agent(MemoryEngine engine, ScriptedModel model, bool sequential)
    {
        var chat = new ChatClientBuilder(model).UseFunctionInvocation(configure: f => f.MaximumIterationsPerRequest = 6).Build();
        return new ChatAgent(engine, Options.Create(new ChatTurnOptions { SequentialExtraction = sequential }), NullLogger<ChatAgent>.Instance,
            new ChatModels(chat, model, "main", "small"));
    }

    private static async Task Seed(SqliteMemoryStore store, MemoryEngine engine, int count)
    {
        string[] words = ["客户", "流失", "预测", "项目", "xgboost", "python", "weekend", "coffee", "meeting", "family", "周末", "咖啡", "会议", "家人"];
        var random = new Random(1);
        var now = DateTimeOffset.UtcNow;
        for (var start = 0; start < count; start += 1_000)
        {
            var items = Enumerable.Range(start, 1_000).Select(i =>
            {
                var content = string.Join(' ', Enumerable.Range(0, 6).Select(_ => words[random.Next(words.Length)])) + $" #{i}";
                var item = new ArchiveItem { Id = LexicalTerms.ContentHash(content), Content = content, CreatedAt = now.AddMinutes(-i), EnteredAt = now.AddMinutes(-i), LastAccessedAt = now.AddMinutes(-i), Importance = 0.5 };
                return item with { ForgetAt = engine.Decay.ForgetAt(item) };
            }).ToList();
            await store.CommitAsync("bench-user", new MemoryChangeSet { ArchiveAdds = items });
        }
    }

    private static double Median(List<double> values) => Percentile(values, 50);

    private static double Percentile(List<double> values, double p)
    {
        var sorted = values.Order().ToList();
        return sorted[Math.Max(0, (int)Math.Ceiling(p / 100 * sorted.Count) - 1)];
    }

    /// <summary>Answers after a fixed delay: extraction (structured output) and summaries with the small delay, the main call with the large one.</summary>
    private sealed class ScriptedModel(TimeSpan main, TimeSpan small) : IChatClient
    {
        public List<int> MainPromptTokens { get; } = [];

        public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            var list = messages.ToList();
            if (options?.ResponseFormat is ChatResponseFormatJson)
            {
                await Task.Delay(small, cancellationToken);
                return new(new ChatMessage(ChatRole.Assistant, """{"core":[],"archive":[]}"""));
            }
            if (list[0].Text.StartsWith("Fold", StringComparison.Ordinal))
            {
                await Task.Delay(small, cancellationToken);
                return new(new ChatMessage(ChatRole.Assistant, "The user reports on their day: work and family, turn after turn."));
            }
            lock (MainPromptTokens) MainPromptTokens.Add(list.Sum(m => Prompt.CountTokens(m.Text) + 4));
            await Task.Delay(main, cancellationToken);
            return new(new ChatMessage(ChatRole.Assistant, "Thanks for telling me; I will keep it in mind for later."));
        }

        public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public object? GetService(Type serviceType, object? serviceKey = null) => null;

        public void Dispose() { }
    }
}
