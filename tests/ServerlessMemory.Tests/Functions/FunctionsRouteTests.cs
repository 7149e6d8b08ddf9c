using System.Reflection;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using ServerlessMemory.Api;

namespace ServerlessMemory.Tests.Functions;

/// <summary>
/// The Azure Functions app and the self-host cannot drift: the Functions sources' trigger attributes
/// are read here (with Roslyn, no Worker packages needed) and held against <see cref="ApiRoutes.All"/>,
/// the table the self-host maps.
/// </summary>
public sealed class FunctionsRouteTests
{
    private static readonly Lazy<IReadOnlyList<FunctionSource>> Sources = new(FunctionSource.ReadAll);
    private static IEnumerable<FunctionSource> Http => Sources.Value.Where(f => f.Trigger == "HttpTrigger");

    [Fact]
    public void Every_route_is_one_http_function_of_the_same_name_and_nothing_else_is()
    {
        SameRows(ApiRoutes.All.Select(r => r.Name), Http.Select(f => f.Name), "HTTP functions");
        Assert.All(Sources.Value, f => Assert.True(f.Trigger is "HttpTrigger" or "TimerTrigger",
            $"{f.Where}: function '{f.Name}' has no HttpTrigger or TimerTrigger parameter."));
    }

    [Fact]
    public void Each_http_function_has_the_method_route_and_authorization_level_of_its_route()
    {
        static string Row(string name, string method, string? route, string? level) => $"{name}: {method} /api/{route} ({level})";
        SameRows(
            ApiRoutes.All.Select(r => Row(r.Name, r.Method, r.Template, r.Access.ToString())),
            Http.Select(f => Row(f.Name, string.Join(",", f.Methods.Select(m => m.ToUpperInvariant())), f.Route, f.AuthorizationLevel)),
            "HTTP functions");
    }

    [Fact]
    public void Decay_sweep_is_the_one_timer_and_runs_on_the_decay_schedule_setting()
    {
        var timer = Assert.Single(Sources.Value, f => f.Trigger == "TimerTrigger");
        Assert.Equal("DecaySweep", timer.Name);
        Assert.Equal("%Decay__Schedule%", timer.Schedule);
        Assert.Contains(timer.Parameters, p => p.Type == "CancellationToken");
    }

    [Fact]
    public void Each_http_function_takes_the_request_its_route_values_and_the_cancellation_token()
    {
        var problems = new List<string>();
        foreach (var f in Http.Where(f => ApiRoutes.All.Any(r => r.Name == f.Name)))
        {
            var routeValues = RouteValues(ApiRoutes.Get(f.Name).Template);
            string[] expected = ["HttpRequest request", .. routeValues.Select(v => $"string {v}"), "CancellationToken cancellationToken"];
            var actual = f.Parameters.Select(p => $"{p.Type} {p.Name}").ToArray();
            if (!expected.SequenceEqual(actual))
                problems.Add($"{f.Where}: {f.Name}({string.Join(", ", actual)}) should be {f.Name}({string.Join(", ", expected)})");
        }
        NoProblems(problems);
    }

    [Fact]
    public void Each_http_function_is_one_call_to_the_memory_api_handler_of_its_name_with_its_own_parameters()
    {
        var problems = new List<string>();
        foreach (var f in Http)
        {
            var expected = $"MemoryApi.{f.Name}({string.Join(", ", f.Parameters.Select(p => p.Name))})";
            var actual = f.Call is null ? "not a single call" : $"{f.Call.Handler}({string.Join(", ", f.Call.Arguments)})";
            if (actual != expected) problems.Add($"{f.Where}: '{f.Name}' is {actual}; it should be {expected} and nothing more");
        }
        NoProblems(problems);
    }

    [Fact]
    public void Each_handler_the_functions_call_takes_what_they_pass()
    {
        foreach (var route in ApiRoutes.All)
        {
            var handler = typeof(MemoryApi).GetMethod(route.Name, BindingFlags.Public | BindingFlags.Static);
            Assert.True(handler is not null, $"MemoryApi has no public static {route.Name}.");
            Assert.Equal(typeof(Task<IResult>), handler.ReturnType);
            Assert.Equal((Type[])[typeof(HttpRequest), .. RouteValues(route.Template).Select(_ => typeof(string)), typeof(CancellationToken)],
                handler.GetParameters().Select(p => p.ParameterType));
        }
    }

    [Fact]
    public void Program_builds_the_functions_host_on_the_shared_composition_root()
    {
        var calls = FunctionSource.Parse(FunctionsProject.Combine("Program.cs")).GetRoot()
            .DescendantNodes().OfType<InvocationExpressionSyntax>()
            .Select(i => i.Expression is MemberAccessExpressionSyntax m ? m.Name.Identifier.Text : i.Expression.ToString())
            .ToList();
        Assert.Contains("CreateBuilder", calls);
        Assert.Contains("ConfigureFunctionsWebApplication", calls);
        Assert.Contains("AddServerlessMemory", calls);
    }

    [Fact]
    public void The_built_functions_app_lists_every_function_in_its_metadata()
    {
        using var metadata = JsonDocument.Parse(File.ReadAllText(Path.Combine(FunctionsProject.OutputDirectory, "functions.metadata")));
        var functions = metadata.RootElement.EnumerateArray().ToDictionary(f => f.GetProperty("name").GetString()!);
        Assert.Equal(ApiRoutes.All.Select(r => r.Name).Append("DecaySweep").Order(StringComparer.Ordinal),
            functions.Keys.Order(StringComparer.Ordinal));
        foreach (var route in ApiRoutes.All)
        {
            var trigger = functions[route.Name].GetProperty("bindings").EnumerateArray()
                .Single(b => b.GetProperty("type").GetString() == "httpTrigger");
            Assert.Equal(route.Template, trigger.GetProperty("route").GetString());
            Assert.Equal(route.Access.ToString(), trigger.GetProperty("authLevel").GetString());
            Assert.Equal(new[] { route.Method }, trigger.GetProperty("methods").EnumerateArray().Select(m => m.GetString()!.ToUpperInvariant()));
        }
        var timer = functions["DecaySweep"].GetProperty("bindings").EnumerateArray()
            .Single(b => b.GetProperty("type").GetString() == "timerTrigger");
        Assert.Equal("%Decay__Schedule%", timer.GetProperty("schedule").GetString());
    }

    /// <summary>Fails with what is missing and what is extra, one per line.</summary>
    private static void SameRows(IEnumerable<string> expected, IEnumerable<string> actual, string what)
    {
        var e = expected.ToList();
        var a = actual.ToList();
        NoProblems([
            .. e.Except(a).Select(r => $"missing from the {what}: {r}"),
            .. a.Except(e).Select(r => $"not in ApiRoutes.All: {r}"),
            .. a.GroupBy(r => r).Where(g => g.Count() > 1).Select(g => $"twice in the {what}: {g.Key}"),
        ]);
    }

    private static void NoProblems(List<string> problems) =>
        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));

    // A catch-all ({*path}) is read from the request's path by its handler, not bound.
    private static string[] RouteValues(string template) =>
        [.. template.Split('/').Where(s => s.StartsWith('{') && !s.StartsWith("{*", StringComparison.Ordinal)).Select(s => s.Trim('{', '}'))];
}

internal static class FunctionsProject
{
    public static string Combine(params string[] parts) => Path.Combine([RepoRoot.Path, "src", "ServerlessMemory.Functions", .. parts]);

    /// <summary>
    /// Where the test command built the Functions app: this project references it for build order only
    /// (see the csproj), with the same configuration and target framework.
    /// </summary>
    public static string OutputDirectory => Host.FunctionsAppFixture.AppDirectory;
}

internal static class RepoRoot
{
    public static readonly string Path = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "ServerlessMemory.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException($"No ServerlessMemory.sln above {AppContext.BaseDirectory}.");
    }
}

/// <summary>One <c>[Function]</c> method of the Functions app, as its source declares it.</summary>
internal sealed record FunctionSource(
    string Name, string Where, string? Trigger, string? AuthorizationLevel, IReadOnlyList<string> Methods, string? Route,
    string? Schedule, IReadOnlyList<(string Type, string Name)> Parameters, HandlerCall? Call)
{
    public static IReadOnlyList<FunctionSource> ReadAll()
    {
        var directory = FunctionsProject.Combine();
        var files = Directory.EnumerateFiles(directory, "*.cs", SearchOption.AllDirectories)
            .Where(f => !System.IO.Path.GetRelativePath(directory, f).Split(System.IO.Path.DirectorySeparatorChar).Any(p => p is "obj" or "bin"))
            .ToList();
        Assert.NotEmpty(files);
        var functions = files.SelectMany(f => Parse(f).GetRoot().DescendantNodes().OfType<MethodDeclarationSyntax>()
            .Where(m => Attribute(m.AttributeLists, "Function") is not null)
            .Select(m => From(m, System.IO.Path.GetRelativePath(RepoRoot.Path, f))))
            .ToList();
        var duplicates = functions.GroupBy(f => f.Name).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.True(duplicates.Count == 0, $"Function names used twice: {string.Join(", ", duplicates)}");
        return functions;
    }

    public static SyntaxTree Parse(string file) =>
        CSharpSyntaxTree.ParseText(File.ReadAllText(file), new CSharpParseOptions(LanguageVersion.Preview), file);

    private static FunctionSource From(MethodDeclarationSyntax method, string file)
    {
        var where = $"{file}:{method.GetLocation().GetLineSpan().StartLinePosition.Line + 1}";
        var name = Literal(Attribute(method.AttributeLists, "Function")!.ArgumentList?.Arguments.FirstOrDefault()?.Expression)
                   ?? throw new InvalidOperationException($"{where}: [Function] needs its name as a string literal.");
        string? trigger = null, level = null, route = null, schedule = null;
        var methods = new List<string>();
        foreach (var parameter in method.ParameterList.Parameters)
        {
            if (Attribute(parameter.AttributeLists, "HttpTrigger") is { } http)
            {
                trigger = "HttpTrigger";
                foreach (var argument in http.ArgumentList?.Arguments ?? [])
                {
                    if (argument.NameEquals?.Name.Identifier.Text == "Route") route = Literal(argument.Expression);
                    else if (argument.NameEquals is null && argument.Expression is MemberAccessExpressionSyntax { Expression: var type } access
                             && type.ToString().EndsWith("AuthorizationLevel", StringComparison.Ordinal))
                        level = access.Name.Identifier.Text;
                    else if (argument.NameEquals is null && Literal(argument.Expression) is { } verb) methods.Add(verb);
                }
            }
            else if (Attribute(parameter.AttributeLists, "TimerTrigger") is { } timer)
            {
                trigger = "TimerTrigger";
                schedule = Literal(timer.ArgumentList?.Arguments.FirstOrDefault()?.Expression);
            }
        }
        var parameters = method.ParameterList.Parameters
            .Select(p => (Type: Rightmost(p.Type!), Name: p.Identifier.Text)).ToList();
        return new(name, where, trigger, level, methods, route, schedule, parameters, HandlerCall.Of(method));
    }

    private static AttributeSyntax? Attribute(SyntaxList<AttributeListSyntax> lists, string name) =>
        lists.SelectMany(l => l.Attributes).FirstOrDefault(a => Rightmost(a.Name) is var n && (n == name || n == name + "Attribute"));

    private static string Rightmost(TypeSyntax type) => type switch
    {
        QualifiedNameSyntax q => q.Right.Identifier.Text,
        AliasQualifiedNameSyntax a => a.Name.Identifier.Text,
        SimpleNameSyntax s => s.Identifier.Text,
        PredefinedTypeSyntax p => p.Keyword.Text,
        _ => type.ToString(),
    };

    private static string? Literal(ExpressionSyntax? expression) =>
        expression is LiteralExpressionSyntax { RawKind: (int)SyntaxKind.StringLiteralExpression } literal ? literal.Token.ValueText : null;
}

/// <summary>The call a function's whole body makes: <c>=&gt; MemoryApi.X(a, b, c)</c> or <c>{ return MemoryApi.X(a, b, c); }</c>.</summary>
internal sealed record HandlerCall(string Handler, IReadOnlyList<string> Arguments)
{
    public static HandlerCall? Of(MethodDeclarationSyntax method)
    {
        var expression = method.ExpressionBody?.Expression
                         ?? (method.Body?.Statements is [ReturnStatementSyntax { Expression: { } returned }] ? returned : null);
        if (expression is not InvocationExpressionSyntax { Expression: MemberAccessExpressionSyntax member } invocation) return null;
        var receiver = member.Expression switch
        {
            IdentifierNameSyntax id => id.Identifier.Text,
            MemberAccessExpressionSyntax qualified => qualified.Name.Identifier.Text,
            _ => member.Expression.ToString(),
        };
        var arguments = invocation.ArgumentList.Arguments
            .Select(a => a.Expression is IdentifierNameSyntax id && a.RefKindKeyword.IsKind(SyntaxKind.None) && a.NameColon is null
                ? id.Identifier.Text
                : a.ToString())
            .ToList();
        return new($"{receiver}.{member.Name.Identifier.Text}", arguments);
    }
}
