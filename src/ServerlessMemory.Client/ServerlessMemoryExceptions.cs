using System.Net;
using System.Text.Json;

namespace ServerlessMemory.Client;

/// <summary>
/// The service answered an error (an RFC 9457 problem). The service changes nothing on a failed
/// request, so what failed can be corrected and sent again. Subclasses name the usual cases.
/// </summary>
public class ServerlessMemoryException : Exception
{
    public ServerlessMemoryException() { }

    public ServerlessMemoryException(string message) : base(message) { }

    public ServerlessMemoryException(string message, Exception innerException) : base(message, innerException) { }

    public ServerlessMemoryException(HttpStatusCode statusCode, string? title, string? detail, string? problemType,
        IReadOnlyDictionary<string, string[]>? errors)
        : base(detail is null ? title ?? $"The service answered {(int)statusCode}." : $"{title} {detail}".Trim())
    {
        StatusCode = statusCode;
        Title = title;
        Detail = detail;
        ProblemType = problemType;
        Errors = errors ?? new Dictionary<string, string[]>();
    }

    public HttpStatusCode StatusCode { get; }
    public string? Title { get; }
    public string? Detail { get; }
    /// <summary>The problem's <c>type</c> URI.</summary>
    public string? ProblemType { get; }
    /// <summary>On a validation problem, each field with what is wrong with it.</summary>
    public IReadOnlyDictionary<string, string[]> Errors { get; } = new Dictionary<string, string[]>();

    /// <summary>An import that stopped part-way: what landed before the failure, with the cursor to resume from.</summary>
    public ImportReport? Imported { get; private set; }

    /// <summary>Reads a problem+json (or any) error answer into the exception for its status.</summary>
    internal static async Task<ServerlessMemoryException> FromResponseAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        string? title = null, detail = null, type = null;
        Dictionary<string, string[]>? errors = null;
        ImportReport? imported = null;
        try
        {
            var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            if (text.Length > 0)
            {
                using var json = JsonDocument.Parse(text);
                var root = json.RootElement;
                if (root.ValueKind == JsonValueKind.Object)
                {
                    title = Text(root, "title");
                    detail = Text(root, "detail");
                    type = Text(root, "type");
                    if (root.TryGetProperty("imported", out var i) && i.ValueKind == JsonValueKind.Object)
                        imported = i.Deserialize<ImportReport>(ServerlessMemoryClient.Json);
                    if (root.TryGetProperty("errors", out var e) && e.ValueKind == JsonValueKind.Object)
                        errors = e.EnumerateObject().ToDictionary(p => p.Name,
                            p => p.Value.ValueKind == JsonValueKind.Array ? [.. p.Value.EnumerateArray().Select(v => v.ToString())] : new[] { p.Value.ToString() });
                }
            }
        }
        catch (JsonException)
        {
            // Not a problem document (a proxy's error page, say): the status says enough.
        }
        var status = response.StatusCode;
        var exception = (int)status switch
        {
            400 => new ServerlessMemoryValidationException(status, title, detail, type, errors),
            401 or 403 => new ServerlessMemoryAuthorizationException(status, title, detail, type, errors),
            404 => new ServerlessMemoryNotFoundException(status, title, detail, type, errors),
            409 or 412 => new ServerlessMemoryConflictException(status, title, detail, type, errors),
            413 => new ServerlessMemoryRequestTooLargeException(status, title, detail, type, errors),
            429 or 503 => new ServerlessMemoryUnavailableException(status, title, detail, type, errors, RetryAfterOf(response)),
            501 => new ServerlessMemoryNotConfiguredException(status, title, detail, type, errors),
            _ => new ServerlessMemoryException(status, title, detail, type, errors),
        };
        exception.Imported = imported;
        return exception;
    }

    internal static TimeSpan? RetryAfterOf(HttpResponseMessage response) =>
        response.Headers.RetryAfter switch
        {
            { Delta: { } delta } => delta,
            { Date: { } date } => date - DateTimeOffset.UtcNow,
            _ => null,
        };

    private static string? Text(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}

/// <summary>501: the service has no model configured for this call (chat, turns); no retry helps until its settings change.</summary>
public sealed class ServerlessMemoryNotConfiguredException : ServerlessMemoryException
{
    public ServerlessMemoryNotConfiguredException() { }
    public ServerlessMemoryNotConfiguredException(string message) : base(message) { }
    public ServerlessMemoryNotConfiguredException(string message, Exception innerException) : base(message, innerException) { }
    public ServerlessMemoryNotConfiguredException(HttpStatusCode statusCode, string? title, string? detail, string? problemType, IReadOnlyDictionary<string, string[]>? errors)
        : base(statusCode, title, detail, problemType, errors) { }
}

/// <summary>400: the request broke a rule; <see cref="ServerlessMemoryException.Errors"/> names the fields.</summary>
public sealed class ServerlessMemoryValidationException : ServerlessMemoryException
{
    public ServerlessMemoryValidationException() { }
    public ServerlessMemoryValidationException(string message) : base(message) { }
    public ServerlessMemoryValidationException(string message, Exception innerException) : base(message, innerException) { }
    public ServerlessMemoryValidationException(HttpStatusCode statusCode, string? title, string? detail, string? problemType, IReadOnlyDictionary<string, string[]>? errors)
        : base(statusCode, title, detail, problemType, errors) { }
}

/// <summary>401 or 403: a missing or wrong key, or a user id that is not the caller's.</summary>
public sealed class ServerlessMemoryAuthorizationException : ServerlessMemoryException
{
    public ServerlessMemoryAuthorizationException() { }
    public ServerlessMemoryAuthorizationException(string message) : base(message) { }
    public ServerlessMemoryAuthorizationException(string message, Exception innerException) : base(message, innerException) { }
    public ServerlessMemoryAuthorizationException(HttpStatusCode statusCode, string? title, string? detail, string? problemType, IReadOnlyDictionary<string, string[]>? errors)
        : base(statusCode, title, detail, problemType, errors) { }
}

/// <summary>404: no such archive memory, tool or route.</summary>
public sealed class ServerlessMemoryNotFoundException : ServerlessMemoryException
{
    public ServerlessMemoryNotFoundException() { }
    public ServerlessMemoryNotFoundException(string message) : base(message) { }
    public ServerlessMemoryNotFoundException(string message, Exception innerException) : base(message, innerException) { }
    public ServerlessMemoryNotFoundException(HttpStatusCode statusCode, string? title, string? detail, string? problemType, IReadOnlyDictionary<string, string[]>? errors)
        : base(statusCode, title, detail, problemType, errors) { }
}

/// <summary>412 (or 409): core memory changed since the ETag given in <c>If-Match</c>; read it again.</summary>
public sealed class ServerlessMemoryConflictException : ServerlessMemoryException
{
    public ServerlessMemoryConflictException() { }
    public ServerlessMemoryConflictException(string message) : base(message) { }
    public ServerlessMemoryConflictException(string message, Exception innerException) : base(message, innerException) { }
    public ServerlessMemoryConflictException(HttpStatusCode statusCode, string? title, string? detail, string? problemType, IReadOnlyDictionary<string, string[]>? errors)
        : base(statusCode, title, detail, problemType, errors) { }
}

/// <summary>413: the body is over the service's size limit.</summary>
public sealed class ServerlessMemoryRequestTooLargeException : ServerlessMemoryException
{
    public ServerlessMemoryRequestTooLargeException() { }
    public ServerlessMemoryRequestTooLargeException(string message) : base(message) { }
    public ServerlessMemoryRequestTooLargeException(string message, Exception innerException) : base(message, innerException) { }
    public ServerlessMemoryRequestTooLargeException(HttpStatusCode statusCode, string? title, string? detail, string? problemType, IReadOnlyDictionary<string, string[]>? errors)
        : base(statusCode, title, detail, problemType, errors) { }
}

/// <summary>503 or 429: the model is unavailable; try again after <see cref="RetryAfter"/>.</summary>
public sealed class ServerlessMemoryUnavailableException : ServerlessMemoryException
{
    public ServerlessMemoryUnavailableException() { }
    public ServerlessMemoryUnavailableException(string message) : base(message) { }
    public ServerlessMemoryUnavailableException(string message, Exception innerException) : base(message, innerException) { }
    public ServerlessMemoryUnavailableException(HttpStatusCode statusCode, string? title, string? detail, string? problemType,
        IReadOnlyDictionary<string, string[]>? errors, TimeSpan? retryAfter = null)
        : base(statusCode, title, detail, problemType, errors) => RetryAfter = retryAfter;

    /// <summary>The service's <c>Retry-After</c>, when it sent one.</summary>
    public TimeSpan? RetryAfter { get; }
}
