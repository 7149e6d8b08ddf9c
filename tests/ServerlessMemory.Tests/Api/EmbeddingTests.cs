using System.Text.Json.Nodes;
using ServerlessMemory.Tests.Scripted;
using static ServerlessMemory.Tests.Api.HttpAssert;

namespace ServerlessMemory.Tests.Api;

/// <summary>Embeddings through the real OpenAI and Azure OpenAI clients, against the scripted model on loopback.</summary>
public sealed class EmbeddingTests : IAsyncLifetime
{
    private ScriptedModelServer _model = null!;

    public async Task InitializeAsync()
    {
        _model = await ScriptedModelServer.StartAsync();
        // A tiny "semantic" space: words about drinks share a direction, nothing else does.
        _model.Embed = text =>
        {
            var v = ScriptedModelServer.HashedTerms(text);
            if (new[] { "咖啡", "coffee", "beverage", "drink" }.Any(w => text.Contains(w, StringComparison.OrdinalIgnoreCase))) v[0] += 50;
            return v;
        };
    }

    private ServiceFactory Service(string provider)
    {
        var service = Chat.ChatRequests.Service(_model, provider, embeddings: true);
        return service;
    }

    [Theory]
    [InlineData("OpenAI", "/v1/embeddings")]
    [InlineData("AzureOpenAI", "/openai/deployments/text-embedding-3-small/embeddings")]
    public async Task Search_finds_by_meaning_what_shares_no_word_with_the_query(string provider, string path)
    {
        using var service = Service(provider);
        var http = service.Client();
        await Ok(await http.PostAsync("/api/users/u/memory/archive", Json("""{"content":"用户今天喝了一杯咖啡","type":"fact"}""")), 201);
        await Ok(await http.PostAsync("/api/users/u/memory/archive", Json("""{"content":"works on churn prediction","type":"fact"}""")), 201);

        var found = (await Ok(await http.GetAsync("/api/users/u/memory/archive?query=beverage&top=1")))["items"]!.AsArray();

        var hit = Assert.Single(found)!;
        Assert.Equal("用户今天喝了一杯咖啡", (string?)hit["content"]);
        Assert.True((double)hit["score"]!["relevance"]! > 0.5);
        var requests = _model.Requests.Where(r => r.Path == path).Select(r => r.Body).ToList();
        Assert.Equal(3, requests.Count);
        Assert.All(requests, r => Assert.Equal("base64", (string?)r["encoding_format"]));
        if (provider == "OpenAI") Assert.All(requests, r => Assert.Equal("text-embedding-3-small", (string?)r["model"]));
        Assert.Equal("configured", (string?)(await Ok(await http.GetAsync("/api/health")))["model"]);
    }

    [Fact]
    public async Task Without_an_embedding_model_search_is_lexical_and_calls_no_model()
    {
        using var service = Service("OpenAI");
        service.Settings["Model:EmbeddingModel"] = "";
        var http = service.Client();
        await Ok(await http.PostAsync("/api/users/u/memory/archive", Json("""{"content":"用户今天喝了一杯咖啡"}""")), 201);

        Assert.Empty((await Ok(await http.GetAsync("/api/users/u/memory/archive?query=beverage")))["items"]!.AsArray());
        Assert.Single((await Ok(await http.GetAsync("/api/users/u/memory/archive?query=咖啡")))["items"]!.AsArray());
        Assert.Empty(_model.Requests);
    }

    public async Task DisposeAsync() => await _model.DisposeAsync();
}
