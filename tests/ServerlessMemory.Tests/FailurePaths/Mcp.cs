using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using static ServerlessMemory.Tests.Api.HttpAssert;

namespace ServerlessMemory.Tests.FailurePaths;

/// <summary>Raw JSON-RPC over the MCP route, as a client that does not behave would send it.</summary>
internal static class Mcp
{
    public static HttpRequestMessage Post(string user, HttpContent content)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"/api/users/{user}/mcp") { Content = content };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        return request;
    }

    public static HttpContent ToolCall(string name, JsonObject arguments, int id = 1) => Json(new JsonObject
    {
        ["jsonrpc"] = "2.0", ["id"] = id, ["method"] = "tools/call",
        ["params"] = new JsonObject { ["name"] = name, ["arguments"] = arguments },
    }.ToJsonString());

    /// <summary>The JSON-RPC message an answer carries, as JSON or as the one event of a stream.</summary>
    public static async Task<JsonObject> Answer(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {text}");
        if (response.Content.Headers.ContentType?.MediaType == "text/event-stream")
            text = string.Concat(text.Split('\n').Where(l => l.StartsWith("data:", StringComparison.Ordinal)).Select(l => l[5..].Trim()));
        return JsonNode.Parse(text)!.AsObject();
    }

    /// <summary>A tool call's structured result.</summary>
    public static async Task<JsonObject> Call(HttpClient http, string user, string name, JsonObject arguments)
    {
        using var request = Post(user, ToolCall(name, arguments));
        var answer = await Answer(await http.SendAsync(request));
        Assert.Null(answer["error"]);
        Assert.NotEqual(true, (bool?)answer["result"]!["isError"]);
        return answer["result"]!["structuredContent"]!.AsObject();
    }
}
