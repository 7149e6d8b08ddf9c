using ServerlessMemory.Tests.Functions.Host;
using ServerlessMemory.Tests.Scripted;
using static ServerlessMemory.Tests.Api.HttpAssert;

namespace ServerlessMemory.Tests.Functions;

/// <summary>The built Functions app with the scripted model as its embedding model.</summary>
public sealed class EmbeddingFunctionsAppFixture : FunctionsAppFixture, IAsyncLifetime
{
    public ScriptedModelServer Model { get; private set; } = null!;

    // Re-implements IAsyncLifetime: the model must be up before the app starts with its address.
    public new async Task InitializeAsync()
    {
        Model = await ScriptedModelServer.StartAsync();
        // Words about drinks share a direction, so "beverage" finds the coffee by its vector alone.
        Model.Embed = text =>
        {
            var v = ScriptedModelServer.HashedTerms(text);
            if (new[] { "咖啡", "coffee", "beverage", "drink" }.Any(w => text.Contains(w, StringComparison.OrdinalIgnoreCase))) v[0] += 50;
            return v;
        };
        await base.InitializeAsync();
    }

    public new async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Model.DisposeAsync();
    }

    protected override FunctionsWorkerHostOptions Configure(FunctionsWorkerHostOptions options) => options with
    {
        Settings = new Dictionary<string, string?>(options.Settings)
        {
            ["Model__Provider"] = "OpenAI",
            ["Model__Endpoint"] = Model.BaseUrl + "/v1",
            ["Model__ApiKey"] = "test-key",
            ["Model__EmbeddingModel"] = "text-embedding-3-small",
            ["Model__EmbeddingDimensions"] = "64",
            ["Model__MaxRetries"] = "1",
            ["Memory__Search__EmbeddingPause"] = "00:00:00",
        },
    };
}

/// <summary>The vector backfill in the Functions app: it rides on the DecaySweep timer.</summary>
public sealed class FunctionsHostBackfillTests(EmbeddingFunctionsAppFixture app) : IClassFixture<EmbeddingFunctionsAppFixture>
{
    private readonly HttpClient _http = app.Client();

    [Fact]
    public async Task The_decay_sweep_timer_gives_vectors_to_memories_stored_during_an_embedding_outage()
    {
        var user = "fn-backfill-" + Guid.NewGuid().ToString("N")[..8];
        app.Model.EmbeddingFault = new(Status: 500);
        string? id;
        try
        {
            id = (string?)(await Ok(await _http.PostAsync($"/api/users/{user}/memory/archive", Json("""{"content":"用户今天喝了一杯咖啡"}""")), 201))["id"];
        }
        finally
        {
            app.Model.EmbeddingFault = null;
        }
        var before = await Ok(await _http.GetAsync($"/api/users/{user}/memory/archive?query=beverage"));

        var outcome = await app.Host.InvokeTimerAsync("DecaySweep");
        var after = await Ok(await _http.GetAsync($"/api/users/{user}/memory/archive?query=beverage"));

        Assert.True(outcome.Succeeded, $"{outcome.ExceptionType}: {outcome.ExceptionMessage}{Environment.NewLine}{app.Host.Logs}");
        Assert.Empty(before["items"]!.AsArray());
        Assert.Equal(id, (string?)Assert.Single(after["items"]!.AsArray())!["id"]);
    }
}
