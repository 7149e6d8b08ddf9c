using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace ServerlessMemory.Infra.Tests;

/// <summary>
/// A compiled ARM template with its modules (nested deployments) flattened into one list of resources.
/// Values that are plainly a parameter or a variable (<c>[parameters('x')]</c>, <c>[variables('x')]</c>)
/// are resolved through the modules down to the literal they come from, the default value of a
/// parameter of the main template included; any other expression stays as its text.
/// </summary>
internal sealed partial class ArmTemplate
{
    private ArmTemplate(JsonObject root, string text, IReadOnlyList<ArmResource> resources)
    {
        Root = root;
        Text = text;
        Resources = resources;
    }

    public JsonObject Root { get; }

    /// <summary>The compiled JSON as text.</summary>
    public string Text { get; }

    public IReadOnlyList<ArmResource> Resources { get; }

    public static ArmTemplate Parse(string json)
    {
        var root = JsonNode.Parse(json)?.AsObject() ?? throw new InvalidDataException("The template is not a JSON object.");
        var resources = new List<ArmResource>();
        var scope = new Scope(root);
        scope.SetParameters(ParametersOf(root).ToDictionary(
            parameter => parameter.Key,
            parameter => parameter.Value?["defaultValue"] is { } value ? scope.Resolve(value) : null));
        Collect(scope, "main", resources);
        return new ArmTemplate(root, json, resources);
    }

    /// <summary>Resources of a type (case-insensitive), from every module.</summary>
    public IEnumerable<ArmResource> OfType(string type) =>
        Resources.Where(resource => string.Equals(resource.Type, type, StringComparison.OrdinalIgnoreCase));

    public ArmResource Single(string type)
    {
        var found = OfType(type).ToList();
        Assert.True(found.Count == 1, $"Expected one {type}, found {found.Count}.");
        return found[0];
    }

    private static void Collect(Scope scope, string module, List<ArmResource> into)
    {
        foreach (var resource in ResourcesOf(scope.Template))
        {
            var type = (string?)resource["type"] ?? "";
            into.Add(new ArmResource(type, module, resource, scope));
            if (type.Equals("Microsoft.Resources/deployments", StringComparison.OrdinalIgnoreCase) &&
                resource["properties"]?["template"] is JsonObject inner)
            {
                var arguments = resource["properties"]?["parameters"] as JsonObject;
                var innerScope = new Scope(inner);
                innerScope.SetParameters(ParametersOf(inner).ToDictionary(
                    parameter => parameter.Key,
                    parameter => arguments?[parameter.Key]?["value"] is { } value
                        ? scope.Resolve(value)
                        : parameter.Value?["defaultValue"] is { } defaultValue ? innerScope.Resolve(defaultValue) : null));
                Collect(innerScope, (string?)resource["name"] ?? module, into);
            }
        }
    }

    private static IEnumerable<JsonObject> ResourcesOf(JsonObject template) => template["resources"] switch
    {
        JsonArray array => array.OfType<JsonObject>(),
        JsonObject symbolic => symbolic.Select(pair => pair.Value).OfType<JsonObject>(), // languageVersion 2.0
        _ => [],
    };

    private static IEnumerable<KeyValuePair<string, JsonNode?>> ParametersOf(JsonObject template) =>
        template["parameters"] as JsonObject ?? [];

    /// <summary>A node as text: a string as it is, anything else as JSON without escaping quotes.</summary>
    public static string AsText(JsonNode? node) => node switch
    {
        null => "",
        JsonValue value when value.TryGetValue<string>(out var text) => text,
        _ => node.ToJsonString(s_unescaped),
    };

    private static readonly JsonSerializerOptions s_unescaped = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    [GeneratedRegex(@"^\[(parameters|variables)\('([^']+)'\)\]$")]
    private static partial Regex PlainReference();

    internal sealed class Scope(JsonObject template)
    {
        private IReadOnlyDictionary<string, JsonNode?> _parameters = new Dictionary<string, JsonNode?>();

        public JsonObject Template { get; } = template;

        public void SetParameters(IReadOnlyDictionary<string, JsonNode?> values) => _parameters = values;

        /// <summary>A deep copy of <paramref name="node"/> with every plain parameter or variable reference replaced by its value.</summary>
        public JsonNode? Resolve(JsonNode? node) => node switch
        {
            JsonObject obj => new JsonObject(obj.Select(pair => KeyValuePair.Create(pair.Key, Resolve(pair.Value)))),
            JsonArray array => new JsonArray([.. array.Select(Resolve)]),
            JsonValue value when value.TryGetValue<string>(out var text) && PlainReference().Match(text) is { Success: true } match =>
                match.Groups[1].Value == "parameters"
                    ? _parameters.TryGetValue(match.Groups[2].Value, out var parameter) ? parameter?.DeepClone() : null
                    : Resolve(Template["variables"]?[match.Groups[2].Value]),
            _ => node?.DeepClone(),
        };
    }
}

/// <summary>One resource of the compiled template, and the module it was declared in.</summary>
internal sealed record ArmResource(string Type, string Module, JsonObject Json, ArmTemplate.Scope Scope)
{
    public string ApiVersion => (string?)Json["apiVersion"] ?? "";

    public string Name => (string?)Json["name"] ?? "";

    /// <summary>The resource's <c>properties</c>, with plain parameter and variable references resolved.</summary>
    public JsonNode? Properties => Scope.Resolve(Json["properties"]);

    public JsonNode? Resolve(JsonNode? node) => Scope.Resolve(node);
}
