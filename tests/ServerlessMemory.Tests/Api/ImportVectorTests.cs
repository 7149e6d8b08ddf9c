using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using ServerlessMemory.Core;
using ServerlessMemory.Tests.Scripted;
using static ServerlessMemory.Tests.Api.HttpAssert;
using static ServerlessMemory.Tests.Api.ImportScenario;

namespace ServerlessMemory.Tests.Api;

/// <summary>An import's vectors: reused when the document's model and dimensions are the configured ones, else left to the backfill.</summary>
public sealed class ImportVectorTests : IAsyncLifetime
{
    private ScriptedModelServer _model = null!;

    public async Task InitializeAsync() => _model = await ScriptedModelServer.StartAsync();

    public async Task DisposeAsync() => await _model.DisposeAsync();

    private ServiceFactory Service()
    {
        var service = Chat.ChatRequests.Service(_model, embeddings: true);
        service.Settings["Memory:Backfill:Interval"] = "00:00:00"; // the test runs it
        return service;
    }

    private int EmbeddingCalls() => _model.RequestsTo("/embeddings").Count();

    [Fact]
    public async Task Vectors_of_the_configured_model_are_stored_as_they_are_and_others_are_left_to_the_backfill()
    {
        using var service = Service();
        var http = service.Client();
        await Ok(await http.PostAsync("/api/users/vec/memory/archive", Json("""{"content":"likes oolong tea"}""")), 201);
        await Ok(await http.PostAsync("/api/users/vec/memory/archive", Json("""{"content":"lives in Hangzhou"}""")), 201);
        var document = await ExportAsync(http, "vec", vectors: true);
        var calls = EmbeddingCalls();

        var same = await Ok(await ImportAsync(http, "vec-same", document, "fromUserId=vec"));

        Assert.Equal("reused", (string?)same["vectors"]);
        Assert.Equal(calls, EmbeddingCalls());
        AssertSame(document, await ExportAsync(http, "vec-same", vectors: true));

        // Another model's vectors are not this one's: the memories are stored without, and the backfill embeds them.
        var other = document.DeepClone().AsObject();
        other["vectors"]!["model"] = "another-embedding-model";
        var elsewhere = await Ok(await ImportAsync(http, "vec-other", other, "fromUserId=vec"));
        var before = await ExportAsync(http, "vec-other", vectors: true);
        var backfill = await service.Services.GetRequiredService<MemoryEngine>().BackfillVectorsAsync();

        Assert.Equal("backfill", (string?)elsewhere["vectors"]);
        Assert.All(before["archive"]!.AsArray(), i => Assert.Null(i!["vector"]));
        Assert.Equal((2, 2), (backfill.Found, backfill.Filled));
        AssertSame(document, await ExportAsync(http, "vec-other", vectors: true));
    }
}
