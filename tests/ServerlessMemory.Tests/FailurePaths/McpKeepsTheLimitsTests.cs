using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using ServerlessMemory.Tests.Api;
using ServerlessMemory.Tests.Functions;
using ServerlessMemory.Tests.Functions.Host;
using static ServerlessMemory.Tests.Api.HttpAssert;

namespace ServerlessMemory.Tests.FailurePaths;

/// <summary>What the MCP route must answer as every other route does, whichever host serves it.</summary>
public static partial class McpLimits
{
    /// <summary>A tools/call whose arguments.content holds a byte that is no UTF-8 (0xFF), sent as it is.</summary>
    public static HttpContent InvalidUtf8()
    {
        var head = Encoding.UTF8.GetBytes("""{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"archive_content","arguments":{"content":"bad """);
        var tail = Encoding.UTF8.GetBytes("\"}}}");
        var content = new ByteArrayContent([.. head, 0xFF, 0xFE, .. tail]);
        content.Headers.ContentType = new("application/json");
        return content;
    }

    /// <summary>A body larger than the limit, sent chunked (no Content-Length to refuse it by).</summary>
    public static HttpContent TooLarge(int limit)
    {
        var padding = new string('x', limit + 1024);
        var message = new JsonObject
        {
            ["jsonrpc"] = "2.0", ["id"] = 1, ["method"] = "tools/call",
            ["params"] = new JsonObject { ["name"] = "archive_content", ["arguments"] = new JsonObject { ["content"] = padding } },
        };
        var content = new PushStreamContent(Encoding.UTF8.GetBytes(message.ToJsonString()));
        content.Headers.ContentType = new("application/json");
        return content;
    }

    /// <summary>Bodies that are no JSON-RPC message a server can run.</summary>
    public static TheoryData<string> Malformed => new()
    {
        "not json",
        "[1,2]",
        """{"jsonrpc":"2.0"}""",
        """{"jsonrpc":"2.0","id":1,"method":"tools/call","params":"x"}""",
        """{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":5}}""",
        """{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"archive_content","arguments":[1]}}""",
        """{"jsonrpc":"2.0","id":{"a":1},"method":"tools/list"}""",
    };

    /// <summary>No .NET type name in what a client is told.</summary>
    public static void AssertNoTypeNames(string answer) =>
        Assert.False(TypeName().IsMatch(answer), $"the answer names a .NET type: {answer}");

    [GeneratedRegex(@"\b(System|Microsoft|ModelContextProtocol|ServerlessMemory)\.[A-Z]")]
    private static partial Regex TypeName();

    /// <summary>Content written in one go without a length, so the request is chunked.</summary>
    private sealed class PushStreamContent(byte[] bytes) : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => stream.WriteAsync(bytes).AsTask();

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}

/// <summary>The MCP route of the self-host keeps the API's body limit, encoding rule and error hygiene.</summary>
public sealed class McpKeepsTheLimitsTests : IDisposable
{
    private readonly ServiceFactory _service = new();

    public void Dispose() => _service.Dispose();

    private void AssertNoErrorLogs() =>
        Assert.DoesNotContain(_service.Logs.AtLeast(LogLevel.Warning), e => e.Level >= LogLevel.Error || e.AllText.Contains("   at ", StringComparison.Ordinal));

    [Fact]
    public async Task A_body_over_the_limit_is_a_413_declared_or_chunked()
    {
        var http = _service.Client();
        var limit = 64 * 1024;

        using var declared = Mcp.Post("big", Mcp.ToolCall("archive_content", new JsonObject { ["content"] = new string('x', limit + 1) }));
        await Problem(await http.SendAsync(declared), 413);
        using var chunked = Mcp.Post("big", McpLimits.TooLarge(limit));
        await Problem(await http.SendAsync(chunked), 413);

        Assert.Empty((await Ok(await http.GetAsync("/api/users/big/memory/archive")))["items"]!.AsArray());
        AssertNoErrorLogs();
    }

    [Fact]
    public async Task Invalid_utf8_in_the_arguments_is_a_400_and_stores_nothing()
    {
        var http = _service.Client();

        using var request = Mcp.Post("utf", McpLimits.InvalidUtf8());
        await Problem(await http.SendAsync(request), 400);

        Assert.Empty((await Ok(await http.GetAsync("/api/users/utf/memory/archive")))["items"]!.AsArray());
        AssertNoErrorLogs();
    }

    [Fact]
    public async Task An_unknown_tool_is_a_json_rpc_error_without_an_error_log()
    {
        var http = _service.Client();

        using var request = Mcp.Post("who", Mcp.ToolCall("drop_everything", new JsonObject()));
        var answer = await Mcp.Answer(await http.SendAsync(request));

        Assert.Equal(-32602, (int)answer["error"]!["code"]!);
        Assert.Contains("drop_everything", (string?)answer["error"]!["message"], StringComparison.Ordinal);
        AssertNoErrorLogs();
    }

    [Theory]
    [MemberData(nameof(McpLimits.Malformed), MemberType = typeof(McpLimits))]
    public async Task A_malformed_message_is_answered_without_dotnet_type_names_or_an_error_log(string body)
    {
        var http = _service.Client();

        using var request = Mcp.Post("odd", Json(body));
        var response = await http.SendAsync(request);

        Assert.True((int)response.StatusCode < 500, $"{(int)response.StatusCode}");
        McpLimits.AssertNoTypeNames(await response.Content.ReadAsStringAsync());
        Assert.Empty((await Ok(await http.GetAsync("/api/users/odd/memory/archive")))["items"]!.AsArray());
        AssertNoErrorLogs();
    }
}

/// <summary>The same, against the built Functions app through the worker test host.</summary>
public sealed class FunctionsHostMcpKeepsTheLimitsTests(FunctionsAppFixture app) : IClassFixture<FunctionsAppFixture>
{
    private static string NewUser() => "fn-mcp-" + Guid.NewGuid().ToString("N")[..8];

    /// <summary>What the worker logged at Error, or a failed invocation, since <paramref name="before"/> lines.</summary>
    private string[] ErrorsSince(int before) =>
        [.. app.Host.Logs.Split(Environment.NewLine).Skip(before).Where(l => l.StartsWith("[worker Error]", StringComparison.Ordinal) || l.Contains(" failed: ", StringComparison.Ordinal))];

    private int LogLines => app.Host.Logs.Split(Environment.NewLine).Length;

    [Fact]
    public async Task Through_the_functions_host_the_mcp_route_keeps_the_limit_the_encoding_rule_and_quiet_errors()
    {
        var http = app.Client();
        var user = NewUser();
        var before = LogLines;

        using (var big = Mcp.Post(user, Mcp.ToolCall("archive_content", new JsonObject { ["content"] = new string('x', 64 * 1024 + 1) })))
            await Problem(await http.SendAsync(big), 413);
        using (var utf = Mcp.Post(user, McpLimits.InvalidUtf8()))
            await Problem(await http.SendAsync(utf), 400);
        using (var unknown = Mcp.Post(user, Mcp.ToolCall("drop_everything", new JsonObject())))
            Assert.Equal(-32602, (int)(await Mcp.Answer(await http.SendAsync(unknown)))["error"]!["code"]!);
        foreach (var body in McpLimits.Malformed)
        {
            using var odd = Mcp.Post(user, Json(body));
            var response = await http.SendAsync(odd);
            Assert.True((int)response.StatusCode < 500, $"{body}: {(int)response.StatusCode}");
            McpLimits.AssertNoTypeNames(await response.Content.ReadAsStringAsync());
        }

        Assert.Empty((await Ok(await http.GetAsync($"/api/users/{user}/memory/archive")))["items"]!.AsArray());
        Assert.Empty(ErrorsSince(before));
    }
}
