using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ServerlessMemory.Core;
using ProblemDetails = Microsoft.AspNetCore.Mvc.ProblemDetails;

namespace ServerlessMemory.Api;

/// <summary>
/// What a failure answers, whichever way the answer goes: problem+json, a stream's <c>error</c>
/// event, an MCP tool error. <see cref="Field"/> names the input at fault (a validation problem);
/// <see cref="RetryAfter"/> says when trying again may help.
/// </summary>
internal sealed record Problem(int Status, string Title, string Detail, string? Field = null, TimeSpan? RetryAfter = null)
{
    /// <summary>Members added to the problem object (an interrupted import's <c>imported</c>: what landed, and the cursor).</summary>
    public IDictionary<string, object?>? Extensions { get; init; }

    /// <summary>The status's section of RFC 9110, as ASP.NET Core's problem details name it.</summary>
    public string Type => Status switch
    {
        400 => "https://tools.ietf.org/html/rfc9110#section-15.5.1",
        404 => "https://tools.ietf.org/html/rfc9110#section-15.5.5",
        412 => "https://tools.ietf.org/html/rfc9110#section-15.5.13",
        413 => "https://tools.ietf.org/html/rfc9110#section-15.5.14",
        415 => "https://tools.ietf.org/html/rfc9110#section-15.5.16",
        501 => "https://tools.ietf.org/html/rfc9110#section-15.6.2",
        502 => "https://tools.ietf.org/html/rfc9110#section-15.6.3",
        503 => "https://tools.ietf.org/html/rfc9110#section-15.6.4",
        _ => "https://tools.ietf.org/html/rfc9110#section-15.6.1",
    };

    /// <summary>The answer of a request whose status line is still to be sent: problem+json, with Retry-After when there is one.</summary>
    public IResult ToResult(HttpContext context)
    {
        if (RetryAfter is { } wait)
            context.Response.Headers.RetryAfter = ((int)Math.Ceiling(Math.Max(1, wait.TotalSeconds))).ToString(CultureInfo.InvariantCulture);
        return Field is not null
            ? TypedResults.ValidationProblem(new Dictionary<string, string[]> { [Field] = [Detail] }, detail: Detail, title: Title, extensions: Extensions)
            : TypedResults.Problem(statusCode: Status, title: Title, detail: Detail, extensions: Extensions);
    }

    /// <summary>The problem as a body of its own (a stream's <c>error</c> event), where no status line or header can carry it.</summary>
    public ProblemDetails ToDetails() => new() { Type = Type, Title = Title, Status = Status, Detail = Detail };
}

/// <summary>
/// The one table from what the engine, the model, the store or the request body throws to what the
/// caller is told, and how it is logged: a Warning at most for what a client's input or a model's
/// answer caused, an Error only for the service's own failures. Nothing internal reaches the caller.
/// </summary>
internal static class Problems
{
    public static Problem For(Exception e, HttpRequest request)
    {
        var services = request.HttpContext.RequestServices;
        switch (e)
        {
            case ImportInterruptedException i:
                // The cause is answered as it would be on its own, with what landed before it: nothing else is stored.
                var cause = For(i.InnerException!, request);
                return cause with
                {
                    Detail = $"{cause.Detail} The import stopped after {i.Landed.Chunks} chunks ({i.Landed.Records} records); 'imported' says what landed, and its cursor resumes it.",
                    Extensions = new Dictionary<string, object?> { ["imported"] = i.Landed },
                };
            case MemoryValidationException v:
                return new(400, "The request is not valid.", v.Message, Field: v.Field);
            case MemoryNotFoundException n:
                return new(404, "Not found.", n.Message);
            case MemoryConflictException c:
                return new(412, "The memory has changed.", c.Message + " Read it again and retry.");
            case ModelNotConfiguredException m:
                return new(501, "No model is configured.", m.Message);
            case ModelUnavailableException m:
                RequestFailures.ModelFailed(services, request, 503, m);
                return new(503, "The model is unavailable.", m.Message + " Nothing was changed.", RetryAfter: m.RetryAfter);
            case StoreUnavailableException s:
                RequestFailures.StoreUnavailable(services, request, s);
                return new(503, "The memory store is unavailable.", s.Message + " A write of this request is stored whole or not at all; retry it.",
                    RetryAfter: s.RetryAfter);
            case ModelFailedException m:
                RequestFailures.ModelFailed(services, request, 502, m);
                return new(502, "The model failed.", m.Message + " Nothing was changed.");
            case RequestBody.TooLargeException t:
                return new(413, "The request is too large.", t.Message);
            case RequestBody.UnsupportedMediaTypeException u:
                return new(415, "The body must be JSON.", u.Message);
            case BadHttpRequestException b:
                // Kestrel's verdict on the body (too slow: 408, shorter than its Content-Length: 400): the client's fault, no Error.
                RequestFailures.BadRequest(services, request, b);
                return new(b.StatusCode, "The request could not be read.", b.StatusCode switch
                {
                    408 => "The request body came too slowly or stopped; nothing was changed.",
                    413 => "The request body is too large.",
                    _ => "The request body ended before its Content-Length or is malformed; nothing was changed.",
                });
            case var _ when request.HttpContext.RequestAborted.IsCancellationRequested:
                // The client went away (a dropped body reads as an I/O error): nobody is left to answer.
                RequestFailures.Aborted(services, request, e);
                return new(499, "The request was cancelled.", "The client went away; nothing was changed.");
            default:
                services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(MemoryApi))
                    .LogError(e, "Request {Method} {Path} failed", request.Method, request.Path);
                return new(500, "The request failed.", "Nothing was changed. See the service's logs.");
        }
    }
}
