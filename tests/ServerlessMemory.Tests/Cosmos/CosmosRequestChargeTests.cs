using System.Diagnostics;
using OpenTelemetry;
using OpenTelemetry.Trace;
using ServerlessMemory.Core;

namespace ServerlessMemory.Tests.Cosmos;

/// <summary>
/// The Cosmos client's request-charge handler against the local server, which charges as the
/// service reports it: <c>x-ms-request-charge</c> on every response, 1 RU a response, and a
/// transactional batch the sum of its operations' charges.
/// </summary>
[Collection(LocalCosmosCollection.Name)]
public sealed class CosmosRequestChargeTests(LocalCosmosServer server)
{
    private static ArchiveItem Item(string content) => new()
    {
        Id = LexicalTerms.ContentHash(content),
        Content = content,
        Type = MemoryType.Fact,
        Importance = 0.6,
        CreatedAt = DateTimeOffset.UtcNow,
        EnteredAt = DateTimeOffset.UtcNow,
        LastAccessedAt = DateTimeOffset.UtcNow,
        Metadata = new Dictionary<string, string>(),
        Embedding = new float[] { 0.5f, 0.25f, 1 },
    };

    [LocalCosmosFact]
    public async Task Each_store_calls_request_charge_from_the_server_goes_on_its_span()
    {
        var spans = new List<Activity>();
        using var tracer = Sdk.CreateTracerProviderBuilder().AddSource(MemoryTelemetry.Name).AddInMemoryExporter(spans).Build();
        var store = MemoryTelemetry.Traced(server.Store);
        var user = "u-" + Guid.NewGuid().ToString("N")[..12];
        // This test's own trace, recorded, so that other tests' store spans are told apart.
        using var test = new Activity("test") { ActivityTraceFlags = ActivityTraceFlags.Recorded };
        test.SetIdFormat(ActivityIdFormat.W3C).Start();
        var charged = new Dictionary<string, (int Requests, int Batches, int Operations)>();
        async Task Call(string operation, Func<Task> call)
        {
            var before = server.Requests.Count;
            await call();
            var sent = server.Requests.ToArray()[before..];
            charged[operation] = (sent.Length, sent.Count(r => r.IsBatch), sent.Sum(r => r.Operations));
        }

        await Call("Commit", () => store.CommitAsync(user, new()
        {
            Core = CoreMemory.CreateDefault(2000).With(new MemoryBlock("human", "小明", 2000, "who")),
            ArchiveAdds = [Item("用户偏好简洁的回答"), Item("当前项目是客户流失预测")],
        }));
        await Call("GetCore", () => store.GetCoreAsync(user));
        await Call("ListArchive", () => store.ListArchiveAsync(user, 10, null));
        test.Stop();

        var mine = Snapshot(spans).Where(s => s.TraceId == test.TraceId).ToList();
        Assert.Equal(1, charged["Commit"].Batches); // one batch, of the core document and the two items at least
        Assert.True(charged["Commit"].Operations > charged["Commit"].Requests, $"{charged["Commit"]}");
        foreach (var (operation, (requests, _, operations)) in charged)
        {
            var span = Assert.Single(mine, s => s.OperationName == "store " + operation);
            Assert.Equal("cosmosdb", span.GetTagItem("db.system"));
            Assert.True(requests > 0, operation);
            // Every response's charge, summed: 1 RU a response, a batch 1 RU an operation.
            Assert.Equal((double)operations, span.GetTagItem("db.cosmosdb.request_charge"));
        }
    }

    private static List<Activity> Snapshot(List<Activity> spans)
    {
        lock (spans)
        {
            return [.. spans];
        }
    }
}
