using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ServerlessMemory.Core;

namespace ServerlessMemory.Api;

/// <summary>How failures that are not the service's fault are logged: a Warning with the cause at most, never an Error.</summary>
internal static partial class RequestFailures
{
    private static ILogger Logger(IServiceProvider services) =>
        services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(MemoryApi).FullName!);

    public static void ModelFailed(IServiceProvider services, HttpRequest request, int status, Exception e) =>
        LogModelFailed(Logger(services), request.Method, request.Path.ToString(), status, e.Message, Cause(e.InnerException));

    public static void StoreUnavailable(IServiceProvider services, HttpRequest request, StoreUnavailableException e) =>
        LogStoreUnavailable(Logger(services), request.Method, request.Path.ToString(), e.Message, Cause(e.InnerException));

    public static void BadRequest(IServiceProvider services, HttpRequest request, BadHttpRequestException e) =>
        LogBadRequest(Logger(services), request.Method, request.Path.ToString(), e.StatusCode, e.Message);

    public static void Aborted(IServiceProvider services, HttpRequest request, Exception e) =>
        LogAborted(Logger(services), request.Method, request.Path.ToString(), e.GetType().Name);

    /// <summary>The chain of causes on one line: type and first line of each message (an HTTP error's body and headers stay out).</summary>
    public static string Cause(Exception? e)
    {
        var parts = new List<string>();
        for (; e is not null && parts.Count < 4; e = e.InnerException)
        {
            var first = e.Message.Split('\n', 2)[0].Trim();
            parts.Add(e is System.ClientModel.ClientResultException { Status: > 0 } c ? $"HTTP {c.Status} from the model service: {first}" : $"{e.GetType().Name}: {first}");
        }
        return parts.Count == 0 ? "no cause given" : string.Join(" <- ", parts);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Method} {Path} answered {Status}: {Problem} Cause: {Cause}")]
    private static partial void LogModelFailed(ILogger logger, string method, string path, int status, string problem, string cause);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Method} {Path} answered 503: {Problem} Cause: {Cause}")]
    private static partial void LogStoreUnavailable(ILogger logger, string method, string path, string problem, string cause);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Method} {Path}: the request could not be read ({Status}): {Reason}")]
    private static partial void LogBadRequest(ILogger logger, string method, string path, int status, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "{Method} {Path}: the client went away ({Exception})")]
    private static partial void LogAborted(ILogger logger, string method, string path, string exception);
}
