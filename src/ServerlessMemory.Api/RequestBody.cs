using System.Text.Json;
using System.Text.Unicode;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;
using ServerlessMemory.Core;

namespace ServerlessMemory.Api;

/// <summary>Reads request bodies within the size limit, as JSON objects with known fields only.</summary>
internal static class RequestBody
{
    public sealed class TooLargeException(long limit) : Exception($"The request body is larger than {limit} bytes.")
    {
        public long Limit { get; } = limit;
    }

    /// <summary>A body in a media type other than JSON (the API answers 415).</summary>
    public sealed class UnsupportedMediaTypeException(string message) : Exception(message);

    public static async Task<JsonElement> ReadObjectAsync(HttpRequest request, int limit, CancellationToken cancellationToken, params string[] allowed)
    {
        CheckMediaType(request.ContentType);
        if (request.ContentLength > limit) throw new TooLargeException(limit);
        var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
        while ((read = await ReadAsync(request, chunk, cancellationToken)) > 0)
        {
            buffer.Write(chunk, 0, read);
            if (buffer.Length > limit) throw new TooLargeException(limit);
        }
        if (buffer.Length == 0) throw new MemoryValidationException("body", "A JSON object body is required.");
        var bytes = buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
        // System.Text.Json reads invalid UTF-8 and escaped lone surrogates without complaint and
        // throws only when a string is read: check the text before any handler sees it.
        if (!Utf8.IsValid(bytes.Span))
            throw new MemoryValidationException("body", "The body is not valid UTF-8: it holds invalid or overlong byte sequences or encoded surrogates.");
        JsonElement body;
        try
        {
            using var document = JsonDocument.Parse(bytes);
            body = document.RootElement.Clone();
        }
        catch (JsonException)
        {
            throw new MemoryValidationException("body", "The body is not valid JSON.");
        }
        CheckText(body, "body");
        if (body.ValueKind != JsonValueKind.Object)
            throw new MemoryValidationException("body", "The body must be a JSON object.");
        if (allowed.Length > 0)
            foreach (var property in body.EnumerateObject())
                if (!allowed.Contains(property.Name))
                    throw new MemoryValidationException(property.Name, $"Unknown field '{property.Name}'.");
        return body;
    }

    /// <summary>
    /// The body as a stream read as it arrives, for a route whose body is far larger than any other's
    /// (the import): JSON only, at most <paramref name="limit"/> bytes (its own setting), a larger
    /// Content-Length refused before a byte is read, and a body without one refused as soon as it passes the limit.
    /// </summary>
    public static Stream OpenStream(HttpRequest request, long limit)
    {
        CheckMediaType(request.ContentType);
        if (request.ContentLength > limit) throw new TooLargeException(limit);
        // Kestrel's own cap (30 MB) would cut this route's body short: this route's limit is its own.
        if (request.HttpContext.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
            size.MaxRequestBodySize = limit + 1;
        return new LimitedStream(request, limit);
    }

    /// <summary>Reads the request body up to its limit, with a lost connection read as <see cref="ReadAsync"/> reads it.</summary>
    private sealed class LimitedStream(HttpRequest request, long limit) : Stream
    {
        private long _read;

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            int read;
            try
            {
                read = await request.Body.ReadAsync(buffer, cancellationToken);
            }
            catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status408RequestTimeout)
            {
                throw;
            }
            catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
            {
                throw new TooLargeException(limit);
            }
            catch (IOException e)
            {
                request.HttpContext.Abort();
                throw new BadHttpRequestException("The connection was lost while the request body was read.", StatusCodes.Status400BadRequest, e);
            }
            _read += read;
            return _read > limit ? throw new TooLargeException(limit) : read;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("The body is read asynchronously.");
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _read; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>A connection lost mid-body is the client's doing: a 400 of Kestrel's kind, not an I/O failure of ours.</summary>
    private static async ValueTask<int> ReadAsync(HttpRequest request, byte[] chunk, CancellationToken cancellationToken)
    {
        try
        {
            return await request.Body.ReadAsync(chunk, cancellationToken);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status408RequestTimeout)
        {
            throw; // too slow: the client is there and gets its 408
        }
        catch (IOException e)
        {
            // Dropped or cut short (BadHttpRequestException is an IOException too): nobody is left to
            // read an answer, and Kestrel would fail, at Error, to drain the rest of the body.
            request.HttpContext.Abort();
            throw new BadHttpRequestException("The connection was lost while the request body was read.", StatusCodes.Status400BadRequest, e);
        }
    }

    /// <summary>JSON in UTF-8 (<c>application/json</c> or a <c>+json</c> type); no Content-Type is read as JSON too.</summary>
    internal static void CheckMediaType(string? contentType)
    {
        if (string.IsNullOrWhiteSpace(contentType)) return;
        var json = MediaTypeHeaderValue.TryParse(contentType, out var media)
                   && (media.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
                       || media.MediaType.EndsWith("+json", StringComparison.OrdinalIgnoreCase))
                   && (!media.Charset.HasValue || media.Charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase));
        if (!json)
            throw new UnsupportedMediaTypeException($"The body must be JSON in UTF-8 (Content-Type: application/json), not '{contentType}'.");
    }

    /// <summary>Every string and property name must be valid Unicode: an escaped lone surrogate (<c>\ud800</c>) is not.</summary>
    internal static void CheckText(JsonElement element, string path)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                Readable(() => element.GetString(), path);
                break;
            case JsonValueKind.Array:
                var i = 0;
                foreach (var item in element.EnumerateArray()) CheckText(item, $"{path}[{i++}]");
                break;
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    var name = Readable(() => property.Name, path);
                    CheckText(property.Value, path == "body" ? name : $"{path}.{name}");
                }
                break;
        }
    }

    private static string Readable(Func<string?> read, string path)
    {
        try
        {
            return read() ?? "";
        }
        catch (InvalidOperationException)
        {
            throw new MemoryValidationException(path, $"'{path}' is not valid Unicode text: it holds a lone surrogate.");
        }
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
