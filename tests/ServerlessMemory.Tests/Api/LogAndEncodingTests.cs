using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using ServerlessMemory.Api;
using static ServerlessMemory.Tests.Api.HttpAssert;

namespace ServerlessMemory.Tests.Api;

public sealed class LogRedactionTests
{
    [Theory]
    [InlineData("Request starting HTTP/1.1 GET http://127.0.0.1:7071/api/users/u/memory/core?code=s3cr3t-key - - -", "?code=***")]
    [InlineData("GET /api/health?x=1&code=abc&y=2", "&code=***&")]
    [InlineData("GET /api/health?CODE=abc", "?CODE=***")]
    [InlineData("QueryString=?api-key=abc", "?api-key=***")]
    public void A_key_parameter_is_masked_wherever_it_appears(string line, string expected)
    {
        var redacted = new LogRedactor(new Microsoft.Extensions.Configuration.ConfigurationBuilder().Build()).Redact(line);

        Assert.Contains(expected, redacted, StringComparison.Ordinal);
        Assert.DoesNotContain("abc", redacted, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cr3t", redacted, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Keys_in_the_query_string_or_a_header_never_reach_a_log_line_at_any_level()
    {
        using var service = new ServiceFactory();
        service.Settings["Auth:ApiKey"] = "user-key-4711";
        service.Settings["Auth:AdminKey"] = "admin-key-0815";
        service.Settings["Logging:LogLevel:Default"] = "Trace";
        service.Settings["Logging:LogLevel:Microsoft.AspNetCore"] = "Trace";
        var http = service.Client();

        await Ok(await http.GetAsync("/api/users/u1/memory/core?code=user-key-4711"));
        await Ok(await http.PostAsync("/api/admin/decay?code=admin-key-0815", null));
        await Problem(await http.GetAsync("/api/users/u1/memory/core?code=a-wrong-guess-1234"), 401);
        await Ok(await service.Client("user-key-4711").GetAsync("/api/users/u1/memory/archive?limit=5&code=user-key-4711"));

        var logs = service.Logs.Entries;
        Assert.Contains(logs, e => e.Message.Contains("Request starting", StringComparison.Ordinal) && e.Message.Contains("code=***", StringComparison.Ordinal));
        foreach (var secret in new[] { "user-key-4711", "admin-key-0815", "a-wrong-guess-1234" })
            Assert.DoesNotContain(logs, e => e.AllText.Contains(secret, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_successful_request_logs_nothing_at_the_default_levels()
    {
        using var service = new ServiceFactory();
        service.Settings.Remove("Logging:LogLevel:Default");
        var http = service.Client();

        await Ok(await http.GetAsync("/api/health"));
        await Ok(await http.GetAsync("/api/users/quiet/memory/core"));
        await Ok(await http.PutAsync("/api/users/quiet/memory/core/human", Json("""{"value":"x"}""")));

        Assert.DoesNotContain(service.Logs.Entries, e => e.Category.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal));
    }
}

/// <summary>Text that is not valid Unicode, in any JSON string of any body: a 400, nothing stored, at most a Warning.</summary>
public sealed class EncodingTests(ServiceFactory service) : IClassFixture<ServiceFactory>
{
    private readonly HttpClient _http = service.Client();

    public static TheoryData<string, string> BadTexts => new()
    {
        { "invalid UTF-8", "\"a\\xFF\\xFEb\"" },
        { "a truncated sequence", "\"a\\xE6\\x97\"" },
        { "an overlong slash", "\"\\xC0\\xAF\"" },
        { "an overlong three-byte form", "\"\\xE0\\x80\\xAF\"" },
        { "an encoded surrogate", "\"\\xED\\xA0\\x80\"" },
        { "a lone high surrogate", "\"x\\\\ud800y\"" },
        { "a lone low surrogate", "\"\\\\udc00\"" },
        { "reversed surrogates", "\"\\\\udc00\\\\ud800\"" },
    };

    /// <summary>A JSON text with the bad string put where %S is; \xNN are raw bytes, \\ a backslash.</summary>
    internal static ByteArrayContent Body(string template, string bad)
    {
        var text = template.Replace("%S", bad, StringComparison.Ordinal);
        var bytes = new List<byte>();
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '\\' && i + 1 < text.Length && text[i + 1] == 'x')
            {
                bytes.Add(Convert.ToByte(text.Substring(i + 2, 2), 16));
                i += 3;
            }
            else if (text[i] == '\\' && i + 1 < text.Length && text[i + 1] == '\\')
            {
                bytes.Add((byte)'\\');
                i += 1;
            }
            else bytes.AddRange(Encoding.UTF8.GetBytes(text[i].ToString()));
        }
        var content = new ByteArrayContent([.. bytes]);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        return content;
    }

    [Theory]
    [MemberData(nameof(BadTexts))]
    public async Task Bad_text_anywhere_in_a_body_is_a_400_and_changes_nothing(string what, string bad)
    {
        _ = what;
        var user = "enc-" + Guid.NewGuid().ToString("N")[..8];
        service.Logs.Clear();
        var writes = new (HttpMethod Method, string Path, string Template)[]
        {
            (HttpMethod.Post, $"/api/users/{user}/memory/archive", """{"content":%S}"""),
            (HttpMethod.Post, $"/api/users/{user}/memory/archive", """{"content":"fine","metadata":{"k":%S}}"""),
            (HttpMethod.Post, $"/api/users/{user}/memory/archive", """{%S:"x"}"""),
            (HttpMethod.Put, $"/api/users/{user}/memory/core/human", """{"value":%S}"""),
            (HttpMethod.Put, $"/api/users/{user}/memory/core/human", """{"value":"ok","description":%S}"""),
            (HttpMethod.Post, $"/api/users/{user}/tools/archive_content", """{"content":%S}"""),
            (HttpMethod.Post, $"/api/users/{user}/tools/update_core_memory", """{"field":"human","value":%S}"""),
            (HttpMethod.Post, $"/api/users/{user}/tools/search_archive", """{"query":%S}"""),
            (HttpMethod.Post, $"/api/users/{user}/tools/search_conversation", """{"query":%S}"""),
        };
        foreach (var (method, path, template) in writes)
        {
            var response = await _http.SendAsync(new HttpRequestMessage(method, path) { Content = Body(template, bad) });
            var problem = await Problem(response, 400);
            Assert.Contains("valid", (string?)problem["detail"], StringComparison.OrdinalIgnoreCase);
        }

        Assert.Empty((await Ok(await _http.GetAsync($"/api/users/{user}/memory/archive")))["items"]!.AsArray());
        var core = await Ok(await _http.GetAsync($"/api/users/{user}/memory/core"));
        Assert.Equal("", (string?)core["blocks"]!.AsArray().Single(b => (string?)b!["label"] == "human")!["value"]);
        Assert.Empty(service.Logs.AtLeast(LogLevel.Error));
    }
}
