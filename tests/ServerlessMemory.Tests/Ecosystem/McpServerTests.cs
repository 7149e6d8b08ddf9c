using System.Text.Json;
using System.Text.Json.Nodes;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using ServerlessMemory.Core;
using ServerlessMemory.Tests.Api;
using static ServerlessMemory.Tests.Api.HttpAssert;

namespace ServerlessMemory.Tests.Ecosystem;

/// <summary>
/// The MCP server with the official SDK's own client, over HTTP: against the self-host and against
/// the Functions app's handler (the SDK's server and transport, as the Mcp function runs them) on a
/// host mapping each route straight to it.
/// </summary>
public sealed class McpServerTests : IAsyncLifetime
{
    private ServiceFactory _self = null!;
    private FunctionsHandlerHost _functions = null!;

    public async Task InitializeAsync()
    {
        _self = new ServiceFactory();
        _ = _self.Client();
        _functions = await FunctionsHandlerHost.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _functions.DisposeAsync();
        _self.Dispose();
    }

    private HttpClient Http(string host) => host == "self-host" ? _self.Client() : _functions.Client();

    public static async Task<McpClient> Connect(HttpClient http, string user, string? protocolVersion = null, string? key = null)
    {
        var options = new HttpClientTransportOptions
        {
            Endpoint = new Uri(http.BaseAddress!, $"/api/users/{user}/mcp"),
            TransportMode = HttpTransportMode.StreamableHttp,
        };
        if (key is not null) options.AdditionalHeaders = new Dictionary<string, string> { ["x-functions-key"] = key };
        return await McpClient.CreateAsync(new HttpClientTransport(options), new McpClientOptions { ProtocolVersion = protocolVersion });
    }

    private static string User() => "mcp-" + Guid.NewGuid().ToString("N")[..8];

    private async Task<string> Block(HttpClient http, string user, string label) =>
        (string)(await Ok(await http.GetAsync($"/api/users/{user}/memory/core")))["blocks"]!.AsArray()
            .Single(b => (string?)b!["label"] == label)!["value"]!;

    [Theory]
    [InlineData("self-host")]
    [InlineData("functions")]
    public async Task The_mcp_client_lists_the_tools_of_get_tools_with_their_schemas_and_the_aliases(string host)
    {
        var http = Http(host);
        await using var client = await Connect(http, User());

        var tools = await client.ListToolsAsync();

        Assert.Equal([.. MemoryTools.Names, .. MemoryTools.Aliases.Order(StringComparer.Ordinal)],
            [.. tools.Take(4).Select(t => t.Name), .. tools.Skip(4).Select(t => t.Name).Order(StringComparer.Ordinal)]);
        var listed = (await Ok(await http.GetAsync("/api/tools")))["tools"]!.AsArray();
        foreach (var definition in listed)
        {
            var tool = tools.Single(t => t.Name == (string?)definition!["function"]!["name"]);
            Assert.Equal((string?)definition!["function"]!["description"], tool.Description);
            Assert.Equal(definition["function"]!["parameters"]!.ToJsonString(), JsonSerializer.Serialize(tool.JsonSchema));
        }
        Assert.All(tools.Skip(4), t => Assert.Equal("object", t.JsonSchema.GetProperty("type").GetString()));
        Assert.Equal("serverless-memory", client.ServerInfo?.Name);
    }

    [Theory]
    [InlineData("self-host")]
    [InlineData("functions")]
    public async Task Appends_past_a_full_block_through_mcp_lose_no_fact_and_say_what_moved(string host)
    {
        var http = Http(host);
        var user = User();
        await using var client = await Connect(http, user);
        var results = new List<JsonNode>();

        for (var i = 0; i < 40; i++)
        {
            var called = await client.CallToolAsync("update_core_memory", new Dictionary<string, object?> { ["field"] = "key_facts", ["value"] = KeptFacts.Fact(i) });
            Assert.NotEqual(true, called.IsError);
            results.Add(JsonNode.Parse(((TextContentBlock)called.Content.Single()).Text)!);
        }

        await KeptFacts.AssertEveryFactIsInCoreOrFoundInTheArchive(http, user, "key_facts", 40, KeptFacts.Fact);
        Assert.Contains(results, r => r["consolidated"]?["archived"]?.AsArray().Count > 0);
    }

    [Theory]
    [InlineData("self-host", null)]
    [InlineData("self-host", "2025-06-18")]
    [InlineData("functions", null)]
    [InlineData("functions", "2025-06-18")]
    public async Task An_mcp_tool_call_edits_that_users_memory_and_no_one_elses(string host, string? protocolVersion)
    {
        var http = Http(host);
        var (user, other) = (User(), User());
        await using var client = await Connect(http, user, protocolVersion);

        var edited = await client.CallToolAsync("update_core_memory", new Dictionary<string, object?> { ["field"] = "preferences", ["value"] = "prefers concise answers" });
        var stored = await client.CallToolAsync("archival_memory_insert", new Dictionary<string, object?> { ["content"] = "当前项目是客户流失预测" });
        var found = await client.CallToolAsync("search_archive", new Dictionary<string, object?> { ["query"] = "项目" });

        Assert.True(string.CompareOrdinal(client.NegotiatedProtocolVersion, "2025-06-18") >= 0, client.NegotiatedProtocolVersion);
        if (protocolVersion is not null) Assert.Equal(protocolVersion, client.NegotiatedProtocolVersion);
        Assert.NotEqual(true, edited.IsError);
        Assert.Equal("prefers concise answers", (string?)JsonNode.Parse(((TextContentBlock)edited.Content.Single()).Text)!["value"]);
        Assert.True(JsonNode.Parse(((TextContentBlock)stored.Content.Single()).Text)!["stored"]!.GetValue<bool>());
        Assert.Contains("当前项目是客户流失预测", ((TextContentBlock)found.Content.Single()).Text, StringComparison.Ordinal);
        Assert.Equal("prefers concise answers", await Block(http, user, "preferences"));
        Assert.Single((await Ok(await http.GetAsync($"/api/users/{user}/memory/archive")))["items"]!.AsArray());
        Assert.Equal("", await Block(http, other, "preferences"));
        Assert.Empty((await Ok(await http.GetAsync($"/api/users/{other}/memory/archive")))["items"]!.AsArray());
    }

    [Theory]
    [InlineData("self-host")]
    [InlineData("functions")]
    public async Task Bad_arguments_are_an_mcp_tool_error_and_change_nothing(string host)
    {
        var http = Http(host);
        var user = User();
        await using var client = await Connect(http, user);

        var empty = await client.CallToolAsync("archive_content", new Dictionary<string, object?> { ["content"] = " " });
        var stray = await client.CallToolAsync("update_core_memory", new Dictionary<string, object?> { ["field"] = "human", ["value"] = "x", ["user"] = "someone-else" });
        var unknown = await Assert.ThrowsAsync<McpProtocolException>(() => client.CallToolAsync("drop_everything").AsTask());

        Assert.True(empty.IsError);
        Assert.Contains("'content' must not be empty", ((TextContentBlock)empty.Content.Single()).Text, StringComparison.Ordinal);
        Assert.True(stray.IsError);
        Assert.Contains("Unknown argument 'user'", ((TextContentBlock)stray.Content.Single()).Text, StringComparison.Ordinal);
        Assert.Contains("drop_everything", unknown.Message, StringComparison.Ordinal);
        Assert.Empty((await Ok(await http.GetAsync($"/api/users/{user}/memory/archive")))["items"]!.AsArray());
        Assert.Equal("\"0\"", (string?)(await Ok(await http.GetAsync($"/api/users/{user}/memory/core")))["etag"]); // never written
    }

    [Fact]
    public async Task The_mcp_route_keeps_the_key_and_user_id_rules_of_every_user_route()
    {
        using var keyed = new ServiceFactory();
        keyed.Settings["Auth:ApiKey"] = "user-key";
        var http = keyed.Client();

        await Assert.ThrowsAnyAsync<Exception>(() => Connect(http, "u"));
        await Problem(await http.PostAsync("/api/users/u/mcp", Json("""{"jsonrpc":"2.0","id":1,"method":"tools/list"}""")), 401);
        var keyedHttp = keyed.Client("user-key");
        await Problem(await keyedHttp.PostAsync("/api/users/no%20spaces/mcp", Json("""{"jsonrpc":"2.0","id":1,"method":"tools/list"}""")), 400);
        await using var client = await Connect(http, "u", key: "user-key");
        Assert.NotEmpty(await client.ListToolsAsync());
    }
}
