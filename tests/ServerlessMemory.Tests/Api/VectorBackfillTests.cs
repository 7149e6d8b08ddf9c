using Microsoft.Extensions.DependencyInjection;
using ServerlessMemory.Core;
using ServerlessMemory.Tests.Scripted;
using static ServerlessMemory.Tests.Api.HttpAssert;

namespace ServerlessMemory.Tests.Api;

/// <summary>Memories stored without their vector during an embedding outage get it once the model is back.</summary>
public sealed class VectorBackfillTests : IAsyncLifetime
{
    private ScriptedModelServer _model = null!;

    public async Task InitializeAsync()
    {
        _model = await ScriptedModelServer.StartAsync();
        // Words about drinks share a direction, so "beverage" finds the coffee by its vector alone.
        _model.Embed = text =>
        {
            var v = ScriptedModelServer.HashedTerms(text);
            if (new[] { "咖啡", "coffee", "beverage", "drink" }.Any(w => text.Contains(w, StringComparison.OrdinalIgnoreCase))) v[0] += 50;
            return v;
        };
    }

    public async Task DisposeAsync() => await _model.DisposeAsync();

    private ServiceFactory Service(string pause = "00:00:00")
    {
        var service = Chat.ChatRequests.Service(_model, embeddings: true);
        service.Settings["Memory:Search:EmbeddingPause"] = pause;
        service.Settings["Memory:Backfill:Interval"] = "00:00:00"; // the tests run it
        return service;
    }

    private static int EmbeddingCalls(ScriptedModelServer model) => model.RequestsTo("/embeddings").Count();

    [Fact]
    public async Task A_memory_added_while_embeddings_failed_is_found_by_meaning_after_the_backfill()
    {
        _model.EmbeddingFault = new(Status: 500);
        using var service = Service();
        var http = service.Client();
        var added = await Ok(await http.PostAsync("/api/users/u/memory/archive", Json("""{"content":"用户今天喝了一杯咖啡"}""")), 201);
        _model.EmbeddingFault = null;
        // Embeddings are back, but the memory has no vector: a query sharing no word with it finds nothing.
        var before = await Ok(await http.GetAsync("/api/users/u/memory/archive?query=beverage"));

        var backfill = await service.Services.GetRequiredService<MemoryEngine>().BackfillVectorsAsync();
        var after = await Ok(await http.GetAsync("/api/users/u/memory/archive?query=beverage"));

        Assert.Null(before["mode"]);
        Assert.Empty(before["items"]!.AsArray());
        Assert.Equal((1, 1, 0, false), (backfill.Found, backfill.Filled, backfill.Skipped, backfill.EmbeddingsDown));
        Assert.Equal((string?)added["id"], (string?)Assert.Single(after["items"]!.AsArray())!["id"]);
        Assert.Equal(0, (await service.Services.GetRequiredService<MemoryEngine>().BackfillVectorsAsync()).Found);
    }

    [Fact]
    public async Task The_self_host_backfills_on_its_interval()
    {
        _model.EmbeddingFault = new(Status: 500);
        using var service = Service();
        service.Settings["Memory:Backfill:Interval"] = "00:01:00";
        var http = service.Client();
        var added = await Ok(await http.PostAsync("/api/users/u/memory/archive", Json("""{"content":"用户今天喝了一杯咖啡"}""")), 201);
        _model.EmbeddingFault = null;

        var found = false;
        for (var i = 0; i < 100 && !found; i++)
        {
            service.Time.Advance(TimeSpan.FromMinutes(1));
            await Task.Delay(100);
            found = (await Ok(await http.GetAsync("/api/users/u/memory/archive?query=beverage")))["items"]!.AsArray()
                .Any(item => (string?)item!["id"] == (string?)added["id"]);
        }

        Assert.True(found, "The backfill service did not give the memory its vector.");
    }

    [Fact]
    public async Task A_backfill_asks_a_failing_model_once_and_nothing_while_embeddings_are_paused()
    {
        _model.EmbeddingFault = new(Status: 500);
        using var service = Service(pause: "01:00:00");
        service.Settings["Memory:Backfill:BatchSize"] = "1";
        var http = service.Client();
        foreach (var content in new[] { "likes green tea", "runs on Sundays", "reads sci-fi" })
            await Ok(await http.PostAsync("/api/users/u/memory/archive", Json($$"""{"content":"{{content}}"}""")), 201);
        var engine = service.Services.GetRequiredService<MemoryEngine>();
        var calls = EmbeddingCalls(_model);

        var paused = await engine.BackfillVectorsAsync();

        Assert.Equal((0, 0, true), (paused.Found, paused.Filled, paused.EmbeddingsDown));
        Assert.Equal(calls, EmbeddingCalls(_model));
    }

    [Fact]
    public async Task A_backfill_stops_at_the_first_failed_embedding_call()
    {
        _model.EmbeddingFault = new(Status: 500);
        using var service = Service(); // no pause: each run may ask once
        service.Settings["Memory:Backfill:BatchSize"] = "1";
        var http = service.Client();
        foreach (var content in new[] { "likes green tea", "runs on Sundays", "reads sci-fi" })
            await Ok(await http.PostAsync("/api/users/u/memory/archive", Json($$"""{"content":"{{content}}"}""")), 201);
        var engine = service.Services.GetRequiredService<MemoryEngine>();
        var calls = EmbeddingCalls(_model);

        var down = await engine.BackfillVectorsAsync();
        _model.EmbeddingFault = null;
        var failed = EmbeddingCalls(_model);
        var back = await engine.BackfillVectorsAsync();

        // One batch of one was tried (its call, with the client's retries), not one call per memory.
        Assert.Equal((1, 0, true), (down.Found, down.Filled, down.EmbeddingsDown));
        Assert.True(failed > calls);
        Assert.Equal((3, 3, false), (back.Found, back.Filled, back.EmbeddingsDown));
        Assert.Equal(failed + 3, EmbeddingCalls(_model));
    }
}
