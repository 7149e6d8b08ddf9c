using System.Text.Json.Nodes;
using ServerlessMemory.Tests.Api;
using static ServerlessMemory.Tests.Api.HttpAssert;

namespace ServerlessMemory.Tests.Ecosystem;

/// <summary>
/// The tools' schemas say the limits the service runs with: a changed setting changes what
/// <c>GET /api/tools</c> and MCP's <c>tools/list</c> tell a model, and what a call may hold.
/// </summary>
public sealed class ToolSchemaLimitsTests : IDisposable
{
    private readonly ServiceFactory _service = new();

    public ToolSchemaLimitsTests()
    {
        _service.Settings["Memory:Limits:MaxTop"] = "7";
        _service.Settings["Memory:Limits:ArchiveChars"] = "300";
    }

    private static JsonNode Property(JsonNode parameters, string name) => parameters["properties"]![name]!;

    [Fact]
    public async Task The_tools_route_and_mcp_list_the_configured_limits_and_calls_are_held_to_them()
    {
        var http = _service.Client();

        var listed = (await Ok(await http.GetAsync("/api/tools")))["tools"]!.AsArray()
            .ToDictionary(t => (string)t!["function"]!["name"]!, t => t!["function"]!["parameters"]!);
        await using var client = await McpServerTests.Connect(http, "limits-user");
        var mcp = (await client.ListToolsAsync()).ToDictionary(t => t.Name, t => JsonNode.Parse(t.JsonSchema.GetRawText())!);

        foreach (var tools in new[] { listed, mcp })
        {
            Assert.Equal(7, (int)Property(tools["search_archive"], "top_k")["maximum"]!);
            Assert.Equal(300, (int)Property(tools["archive_content"], "content")["maxLength"]!);
        }
        await Problem(await http.PostAsync("/api/users/limits-user/tools/search_archive", Json("""{"query":"coffee","top_k":8}""")), 400);
        await Ok(await http.PostAsync("/api/users/limits-user/tools/search_archive", Json("""{"query":"coffee","top_k":7}""")));
        await Problem(await http.PostAsync("/api/users/limits-user/tools/archive_content", Json($$"""{"content":"{{new string('x', 301)}}"}""")), 400);
        await Ok(await http.PostAsync("/api/users/limits-user/tools/archive_content", Json($$"""{"content":"{{new string('x', 300)}}"}""")));
    }

    public void Dispose() => _service.Dispose();
}
