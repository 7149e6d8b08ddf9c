using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using ServerlessMemory.Core;
using ServerlessMemory.Tests.Cosmos;
using ServerlessMemory.Tests.Stores;
using static ServerlessMemory.Tests.Api.HttpAssert;
using static ServerlessMemory.Tests.Api.ImportScenario;

namespace ServerlessMemory.Tests.Api;

/// <summary>
/// The import on Cosmos DB (the local test server, <see cref="LocalCosmosServer"/>) and across stores:
/// export → import → export gives the same document on Cosmos DB, from SQLite to Cosmos DB and back.
/// </summary>
[CosmosRequired]
[Collection(LocalCosmosCollection.Name)]
public sealed class ImportCosmosTests(LocalCosmosServer server)
{
    /// <summary>The self-host on the local Cosmos DB server's store.</summary>
    private ServiceFactory OnCosmos()
    {
        var service = new ServiceFactory();
        service.TestServices = services => services.AddSingleton<IMemoryStore>(server.Store);
        return service;
    }

    private static string User(string name) => $"{name}-{Guid.NewGuid():N}"[..24];

    [ConditionalFact]
    public async Task Export_then_import_into_an_empty_user_gives_the_same_export_again_on_Cosmos_DB()
    {
        using var service = OnCosmos();
        var http = service.Client();
        var (source, copy) = (User("src"), User("copy"));
        var document = await SeedAsync(http, service.Time, source);
        Assert.Equal("cosmos", (string?)document["store"]);

        var report = await Ok(await ImportAsync(http, copy, document, $"fromUserId={source}"));

        Assert.True((bool)report["complete"]!);
        AssertSame(document, await ExportAsync(http, copy));
        var again = await Ok(await ImportAsync(http, copy, document, $"fromUserId={source}"));
        Assert.Equal(0, (int)again["chunks"]!);
        Assert.Equal(4, Tally(again, "archive").Skipped);
    }

    [ConditionalFact]
    public async Task A_user_moved_from_SQLite_to_Cosmos_DB_and_back_exports_the_same_document()
    {
        using var sqlite = new ServiceFactory();
        using var cosmos = OnCosmos();
        var (fromSqlite, toCosmos) = (sqlite.Client(), cosmos.Client());
        var (user, moved, back) = (User("mover"), User("moved"), User("back"));
        var document = await SeedAsync(fromSqlite, sqlite.Time, user);
        cosmos.Time.SetUtcNow(sqlite.Time.GetUtcNow());

        await Ok(await ImportAsync(toCosmos, moved, document, $"fromUserId={user}"));
        var onCosmos = await ExportAsync(toCosmos, moved);
        await Ok(await ImportAsync(fromSqlite, back, onCosmos, $"fromUserId={moved}"));
        var backOnSqlite = await ExportAsync(fromSqlite, back);

        Assert.Equal(("sqlite", "cosmos", "sqlite"), ((string?)document["store"], (string?)onCosmos["store"], (string?)backOnSqlite["store"]));
        AssertSame(document, onCosmos);
        AssertSame(document, backOnSqlite);
    }

    [ConditionalFact]
    public async Task A_chunk_larger_than_one_transactional_batch_is_written_as_two_each_atomic()
    {
        using var service = OnCosmos();
        service.Settings["Memory:Limits:ImportChunkRecords"] = "150";
        service.Settings["Memory:Limits:ImportChunkBytes"] = "10000000";
        var http = service.Client();
        var user = User("wide");
        var at = service.Time.GetUtcNow().AddMinutes(-10);
        var archive = new JsonArray([.. Enumerable.Range(0, 150).Select(i =>
        {
            var content = $"memory number {i} of a wide chunk";
            var time = UtcTime.ToText(at.AddSeconds(-i));
            return (JsonNode)new JsonObject
            {
                ["id"] = LexicalTerms.ContentHash(content), ["content"] = content, ["type"] = "identity", ["importance"] = 0.5,
                ["createdAt"] = time, ["enteredAt"] = time, ["lastAccessedAt"] = time, ["accessCount"] = 0, ["forgetAt"] = null,
                ["supersededAt"] = null, ["supersededBy"] = null, ["metadata"] = new JsonObject(),
            };
        })]);
        var document = new JsonObject
        {
            ["format"] = MemoryExport.Format, ["userId"] = user, ["exportedAt"] = UtcTime.ToText(at), ["store"] = "sqlite", ["core"] = null,
            ["archive"] = archive, ["messages"] = new JsonArray(), ["sessions"] = new JsonArray(),
        };
        var batchesBefore = server.Requests.Count(r => r.IsBatch);

        var report = await Ok(await ImportAsync(http, user, document));

        Assert.Equal(150, Tally(report, "archive").Added);
        Assert.Equal(2, (int)report["chunks"]!);
        var batches = server.Requests.Where(r => r.IsBatch).Skip(batchesBefore).ToList();
        Assert.All(batches, b => Assert.True(b.Operations <= 100, $"a batch of {b.Operations} operations"));
        Assert.Equal(150, (await ExportAsync(http, user))["archive"]!.AsArray().Count);
    }
}
