using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.OpenApi;
using ServerlessMemory.Api;
using ServerlessMemory.Tests.Api;
using static ServerlessMemory.Tests.Api.HttpAssert;

namespace ServerlessMemory.Tests.Ecosystem;

/// <summary>The OpenAPI document both hosts serve, the reference page, and the .http file, held against <see cref="ApiRoutes.All"/>.</summary>
public sealed class OpenApiDocumentTests : IAsyncLifetime
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

    [Fact]
    public async Task The_document_describes_every_route_with_its_responses_and_problems()
    {
        var response = await _self.Client().GetAsync("/api/openapi.json");
        var document = await Ok(response);

        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.StartsWith("3.", (string?)document["openapi"], StringComparison.Ordinal);
        var problems = new List<string>();
        foreach (var route in ApiRoutes.All)
        {
            var operation = document["paths"]?["/api/" + route.Template.Replace("{*", "{", StringComparison.Ordinal)]?[route.Method.ToLowerInvariant()];
            if (operation is null)
            {
                problems.Add($"{route.Method} /api/{route.Template} ({route.Name}) is not in the document");
                continue;
            }
            var responses = operation["responses"]!.AsObject();
            if (!responses.Any(r => r.Key.StartsWith('2'))) problems.Add($"{route.Name}: no 2xx response");
            if (route.Access != AccessLevel.Anonymous && responses["401"]?["content"]?["application/problem+json"] is null)
                problems.Add($"{route.Name}: no 401 problem");
            if (route.Method is "POST" or "PUT" && route.Name != "RunDecaySweep" && operation["requestBody"]?["content"] is null)
                problems.Add($"{route.Name}: no request body");
            foreach (var value in Regex.Matches(route.Template, @"\{\*?(\w+)\}").Select(m => m.Groups[1].Value))
                if (operation["parameters"]?.AsArray().Any(p => (string?)p!["name"] == value && (string?)p["in"] == "path") != true)
                    problems.Add($"{route.Name}: path parameter {value} is not described");
        }
        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
        Assert.Contains("ChatAnswerDto", document["components"]!["schemas"]!.AsObject().Select(s => s.Key));
        Assert.NotNull(document["paths"]!["/api/users/{userId}/memory/archive"]!["get"]!["parameters"]!.AsArray().SingleOrDefault(p => (string?)p!["name"] == "query"));
    }

    [Fact]
    public async Task Both_hosts_serve_the_same_file_and_it_is_what_the_self_host_generates_from_its_endpoints()
    {
        var served = await _self.Client().GetStringAsync("/api/openapi.json");
        var fromFunctions = await _functions.Client().GetStringAsync("/api/openapi.json");
        var provider = _self.Services.GetRequiredKeyedService<IOpenApiDocumentProvider>("v1");
        var generated = await (await provider.GetOpenApiDocumentAsync()).SerializeAsJsonAsync(OpenApiSpecVersion.OpenApi3_1);

        Assert.Equal(served, fromFunctions);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(generated), JsonNode.Parse(served)),
            "src/ServerlessMemory.Api/openapi.json is not what the self-host generates now: build src/ServerlessMemory.Server (it regenerates the file), then commit it.");
    }

    [Fact]
    public async Task The_self_host_serves_an_interactive_reference_over_the_document_at_api_docs()
    {
        var response = await _self.Client().GetAsync("/api/docs");

        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        var page = await response.Content.ReadAsStringAsync();
        Assert.True(page.Contains("openapi.json", StringComparison.Ordinal), page);
    }

    [Fact]
    public void The_http_file_has_a_request_for_every_route()
    {
        var file = Path.Combine(Functions.RepoRoot.Path, "src", "ServerlessMemory.Server", "ServerlessMemory.http");
        var requests = File.ReadAllLines(file)
            .Select(l => Regex.Match(l, @"^(GET|POST|PUT|DELETE|PATCH) \{\{base\}\}/api/([^?\s]+)"))
            .Where(m => m.Success)
            .Select(m => (Method: m.Groups[1].Value, Path: m.Groups[2].Value))
            .ToList();

        var missing = ApiRoutes.All.Where(route =>
        {
            var pattern = new Regex("^" + Regex.Replace(Regex.Replace(Regex.Escape(route.Template), @"\\\{\\\*\w+}", ".*"), @"\\\{\w+}", @"[^/]+") + "$");
            return !requests.Any(r => r.Method == route.Method && pattern.IsMatch(r.Path.Replace("{{user}}", "u", StringComparison.Ordinal)));
        }).Select(r => $"{r.Method} /api/{r.Template} ({r.Name})").ToList();
        Assert.True(missing.Count == 0, $"add a request to {file} for:{Environment.NewLine}{string.Join(Environment.NewLine, missing)}");
    }
}
