using System.Net;
using System.Text.Json.Nodes;
using static ServerlessMemory.Tests.Api.HttpAssert;

namespace ServerlessMemory.Tests.Api;

/// <summary>Whatever a caller types into a search is a 4xx or a result, never a server error.</summary>
public sealed class SearchInputTests(ServiceFactory service) : IClassFixture<ServiceFactory>
{
    private readonly HttpClient _http = service.Client();

    public static TheoryData<string> Queries => new()
    {
        "!!! ??? ... ;;; --- ***",
        "\"unclosed phrase",
        "falcon* OR NEAR(project secret, 2) AND NOT ^x",
        "terms:falcon {a b} col:* - + ( ) \" '",
        "the and of it",
        "😀🎉 \u202e \t",
        new string('项', 1000),
        string.Concat(Enumerable.Repeat("falcon project ", 66)) + "fa",
    };

    [Theory]
    [MemberData(nameof(Queries))]
    public async Task Any_query_is_a_result_or_a_4xx_never_a_5xx(string query)
    {
        var user = "input-" + Guid.NewGuid().ToString("N")[..8];
        await Ok(await _http.PostAsync($"/api/users/{user}/memory/archive", Json("""{"content":"the secret project Falcon ships in May 项目"}""")), 201);

        var response = await _http.GetAsync($"/api/users/{user}/memory/archive?query={Uri.EscapeDataString(query)}");

        // 1,000 Chinese characters are 9,000 bytes of URL: the server may refuse the line (414).
        if (response.StatusCode == HttpStatusCode.RequestUriTooLong) return;
        Assert.IsType<JsonArray>((await Ok(response))["items"]);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    public async Task An_empty_query_is_a_400(string query)
    {
        var response = await _http.GetAsync($"/api/users/someone/memory/archive?query={Uri.EscapeDataString(query)}");

        await Problem(response, 400);
    }

    [Fact]
    public async Task A_query_over_1000_characters_is_a_400()
    {
        var response = await _http.GetAsync($"/api/users/someone/memory/archive?query={new string('a', 1001)}");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task Punctuation_or_stop_words_alone_find_nothing()
    {
        var user = "input-" + Guid.NewGuid().ToString("N")[..8];
        await Ok(await _http.PostAsync($"/api/users/{user}/memory/archive", Json("""{"content":"the history of the town and its people"}""")), 201);

        foreach (var query in new[] { "?!.,;", "the and of" })
            Assert.Empty((await Ok(await _http.GetAsync($"/api/users/{user}/memory/archive?query={Uri.EscapeDataString(query)}")))["items"]!.AsArray());
    }
}
