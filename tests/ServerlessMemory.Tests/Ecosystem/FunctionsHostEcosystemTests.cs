using ModelContextProtocol.Protocol;
using ServerlessMemory.Api;
using ServerlessMemory.Core;
using ServerlessMemory.Tests.Functions.Host;
using static ServerlessMemory.Tests.Api.HttpAssert;

namespace ServerlessMemory.Tests.Ecosystem;

/// <summary>The MCP server and the OpenAPI document of the built Functions app, run by the worker test host.</summary>
public sealed class FunctionsHostEcosystemTests(FunctionsAppFixture app) : IClassFixture<FunctionsAppFixture>
{
    [Fact]
    public async Task An_mcp_session_with_the_sdks_client_lists_and_calls_the_tools_through_the_functions_host()
    {
        var http = app.Client();
        var user = "fn-mcp-" + Guid.NewGuid().ToString("N")[..8];
        await using var client = await McpServerTests.Connect(http, user);

        var tools = await client.ListToolsAsync();
        var edited = await client.CallToolAsync("update_core_memory", new Dictionary<string, object?> { ["field"] = "human", ["value"] = "小明" });
        var bad = await client.CallToolAsync("archive_content", new Dictionary<string, object?> { ["content"] = "" });

        Assert.True(string.CompareOrdinal(client.NegotiatedProtocolVersion, "2025-06-18") >= 0, client.NegotiatedProtocolVersion);
        Assert.Equal(MemoryTools.Names.Count + MemoryTools.AliasDefinitions.Count, tools.Count);
        Assert.NotEqual(true, edited.IsError);
        Assert.True(bad.IsError);
        Assert.Contains("小明", ((TextContentBlock)edited.Content.Single()).Text, StringComparison.Ordinal);
        var core = await Ok(await http.GetAsync($"/api/users/{user}/memory/core"));
        Assert.Equal("小明", (string?)core["blocks"]!.AsArray().Single(b => (string?)b!["label"] == "human")!["value"]);
    }

    [Fact]
    public async Task The_functions_host_serves_the_openapi_document_the_self_host_generated()
    {
        var served = await app.Client().GetByteArrayAsync("/api/openapi.json");

        Assert.Equal(MemoryOpenApi.Document.ToArray(), served);
    }
}
