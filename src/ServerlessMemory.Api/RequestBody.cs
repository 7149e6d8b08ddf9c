using System.Text.Json;
using Microsoft.AspNetCore.Http;
using ServerlessMemory.Core;

namespace ServerlessMemory.Api;

/// <summary>Reads request bodies within the size limit, as JSON objects with known fields only.</summary>
internal static class RequestBody
{
    public sealed class TooLargeException(int limit) : Exception($"The request body is larger than {limit} bytes.")
    {
        public int Limit { get; } = limit;
    }

    public static async Task<JsonElement> ReadObjectAsync(HttpRequest request, int limit, CancellationToken cancellationToken, params string[] allowed)
    {
        if (request.ContentLength > limit) throw new TooLargeException(limit);
        var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            buffer.Write(chunk, 0, read);
            if (buffer.Length > limit) throw new TooLargeException(limit);
        }
        if (buffer.Length == 0) throw new MemoryValidationException("body", "A JSON object body is required.");
        JsonElement body;
        try
        {
            using var document = JsonDocument.Parse(buffer.ToArray());
            body = document.RootElement.Clone();
        }
        catch (JsonException)
        {
            throw new MemoryValidationException("body", "The body is not valid JSON.");
        }
        if (body.ValueKind != JsonValueKind.Object)
            throw new MemoryValidationException("body", "The body must be a JSON object.");
        if (allowed.Length > 0)
            foreach (var property in body.EnumerateObject())
                if (!allowed.Contains(property.Name))
                    throw new MemoryValidationException(property.Name, $"Unknown field '{property.Name}'.");
        return body;
    }

    public static string? String(this JsonElement body, string name, bool required = false)
    {
        if (!body.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
            return required ? throw new MemoryValidationException(name, $"'{name}' is required.") : null;
        return value.ValueKind == JsonValueKind.String ? value.GetString()
            : throw new MemoryValidationException(name, $"'{name}' must be a string.");
    }

    public static double? Number(this JsonElement body, string name, double min, double max)
    {
        if (!body.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind != JsonValueKind.Number || value.GetDouble() is var d && (d < min || d > max))
            throw new MemoryValidationException(name, $"'{name}' must be a number from {min} to {max}.");
        return d;
    }

    public static int? Int(this JsonElement body, string name, int min, int max)
    {
        if (!body.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out var i) || i < min || i > max)
            throw new MemoryValidationException(name, $"'{name}' must be an integer from {min} to {max}.");
        return i;
    }

    public static bool? Bool(this JsonElement body, string name)
    {
        if (!body.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        return value.ValueKind is JsonValueKind.True or JsonValueKind.False ? value.GetBoolean()
            : throw new MemoryValidationException(name, $"'{name}' must be true or false.");
    }
}
