using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace ServerlessMemory.Tests.Api;

/// <summary>
/// Checks a document against the subset of JSON Schema 2020-12 that docs/export.schema.json uses
/// (type, const, enum, pattern, minLength, minimum, maximum, maxItems, required, properties,
/// additionalProperties, items, oneOf, $ref to $defs). The served validators either clash with the
/// tests' names (JsonSchema.Net's root namespace <c>Json</c>) or read older drafts.
/// </summary>
internal static class SchemaCheck
{
    public static IReadOnlyList<string> Errors(JsonObject schema, JsonNode? instance)
    {
        var errors = new List<string>();
        Check(schema, schema, instance, "$", errors);
        return errors;
    }

    private static void Check(JsonObject root, JsonObject schema, JsonNode? value, string at, List<string> errors)
    {
        if (schema["$ref"] is JsonValue reference)
        {
            var name = ((string)reference!)["#/$defs/".Length..];
            Check(root, root["$defs"]![name]!.AsObject(), value, at, errors);
        }
        if (schema["oneOf"] is JsonArray oneOf)
        {
            var matching = oneOf.Count(s => Errors(root, s!.AsObject(), value) == 0);
            if (matching != 1) errors.Add($"{at}: matches {matching} of oneOf");
        }
        if (schema["const"] is { } constant && !JsonNode.DeepEquals(constant, value)) errors.Add($"{at}: is not {constant.ToJsonString()}");
        if (schema["enum"] is JsonArray choices && !choices.Any(c => JsonNode.DeepEquals(c, value))) errors.Add($"{at}: is not one of {choices.ToJsonString()}");
        if (schema["type"] is JsonValue type && !IsType(value, (string)type!)) { errors.Add($"{at}: is not {type}"); return; }
        if (value is JsonValue scalar && scalar.TryGetValue<string>(out var text))
        {
            if (schema["pattern"] is JsonValue pattern && !Regex.IsMatch(text, (string)pattern!)) errors.Add($"{at}: '{text}' does not match {pattern}");
            if (schema["minLength"] is JsonValue minLength && text.Length < (int)minLength) errors.Add($"{at}: shorter than {minLength}");
        }
        if (value is JsonValue number && number.GetValueKind() == System.Text.Json.JsonValueKind.Number)
        {
            var n = Number(number);
            if (schema["minimum"] is JsonValue min && n < (double)min) errors.Add($"{at}: below {min}");
            if (schema["maximum"] is JsonValue max && n > (double)max) errors.Add($"{at}: above {max}");
        }
        if (value is JsonArray array)
        {
            if (schema["maxItems"] is JsonValue maxItems && array.Count > (int)maxItems) errors.Add($"{at}: more than {maxItems} items");
            if (schema["items"] is JsonObject items)
                for (var i = 0; i < array.Count; i++) Check(root, items, array[i], $"{at}[{i}]", errors);
        }
        if (value is JsonObject obj)
        {
            foreach (var required in schema["required"]?.AsArray() ?? [])
                if (!obj.ContainsKey((string)required!)) errors.Add($"{at}: lacks '{required}'");
            var properties = schema["properties"] as JsonObject;
            foreach (var (name, child) in obj)
            {
                if (properties?[name] is JsonObject property) Check(root, property, child, $"{at}.{name}", errors);
                else if (schema["additionalProperties"] is JsonObject additional) Check(root, additional, child, $"{at}.{name}", errors);
                else if (schema["additionalProperties"] is JsonValue allowed && !(bool)allowed) errors.Add($"{at}: '{name}' is not in the schema");
            }
        }
    }

    private static int Errors(JsonObject root, JsonObject schema, JsonNode? value)
    {
        var errors = new List<string>();
        Check(root, schema, value, "", errors);
        return errors.Count;
    }

    private static double Number(JsonValue value) => double.Parse(value.ToJsonString(), System.Globalization.CultureInfo.InvariantCulture);

    private static bool IsType(JsonNode? value, string type) => type switch
    {
        "null" => value is null,
        "object" => value is JsonObject,
        "array" => value is JsonArray,
        "string" => value?.GetValueKind() == System.Text.Json.JsonValueKind.String,
        "boolean" => value?.GetValueKind() is System.Text.Json.JsonValueKind.True or System.Text.Json.JsonValueKind.False,
        "integer" => value is JsonValue i && i.GetValueKind() == System.Text.Json.JsonValueKind.Number && Number(i) == Math.Floor(Number(i)),
        "number" => value?.GetValueKind() == System.Text.Json.JsonValueKind.Number,
        _ => throw new NotSupportedException($"JSON Schema type '{type}'"),
    };
}
