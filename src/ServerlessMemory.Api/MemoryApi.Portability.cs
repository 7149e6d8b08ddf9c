using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ServerlessMemory.Core;

namespace ServerlessMemory.Api;

/// <summary>A user's memory out of the service as one streamed JSON document (<see cref="MemoryExport"/>), and back in (<see cref="MemoryImport"/>).</summary>
public static partial class MemoryApi
{
    public static Task<IResult> ImportUser(HttpRequest request, string userId, CancellationToken cancellationToken) =>
        Run(request, userId, async (services, engine) =>
        {
            var mode = request.Query["mode"].ToString() switch
            {
                "" or "merge" => ImportMode.Merge,
                "replace" => ImportMode.Replace,
                _ => throw new MemoryValidationException("mode", "'mode' must be merge or replace."),
            };
            var dryRun = QueryBool(request, "dryRun");
            var cursor = request.Query.ContainsKey("cursor") ? request.Query["cursor"].ToString() : null;
            MemoryImport.CursorPosition(cursor);
            var fromUserId = request.Query.ContainsKey("fromUserId") ? request.Query["fromUserId"].ToString() : null;
            if (fromUserId is not null && !UserIdPattern().IsMatch(fromUserId))
                throw new MemoryValidationException("fromUserId", "A user id is 1 to 128 characters of A-Z a-z 0-9 - _ . @ :");
            var body = RequestBody.OpenStream(request, engine.Limits.ImportBodyBytes);
            var model = services.GetRequiredService<IOptions<ModelOptions>>().Value;
            var import = new MemoryImport(engine, model.EmbeddingModel, model.EmbeddingDimensions);
            var report = await import.RunAsync(userId, body, mode, dryRun, cursor, fromUserId, cancellationToken);
            return TypedResults.Ok(report);
        });

    private static bool QueryBool(HttpRequest request, string name) =>
        request.Query[name].ToString() is { Length: > 0 } v
            ? bool.TryParse(v, out var b) ? b : throw new MemoryValidationException(name, $"'{name}' must be true or false.")
            : false;

    public static Task<IResult> ExportUser(HttpRequest request, string userId, CancellationToken cancellationToken) =>
        Run(request, userId, async (services, engine) =>
        {
            var withVectors = QueryBool(request, "vectors");
            var model = services.GetRequiredService<IOptions<ModelOptions>>().Value;
            var vectors = withVectors ? new ExportVectors(engine.Embedder is null ? null : model.EmbeddingModel, model.EmbeddingDimensions) : null;
            // Read before the first byte: a store failure here is still a problem answer with its status.
            var core = await engine.Store.GetCoreAsync(userId, cancellationToken);
            return new ExportResult(new MemoryExport(engine), userId, core, vectors);
        });

    /// <summary>Streams the document to the response as it pages through the store.</summary>
    private sealed class ExportResult(MemoryExport export, string userId, CoreMemory? core, ExportVectors? vectors) : IResult
    {
        public async Task ExecuteAsync(HttpContext context)
        {
            context.Response.StatusCode = StatusCodes.Status200OK;
            context.Response.ContentType = "application/json; charset=utf-8";
            context.Response.Headers.ContentDisposition = $"attachment; filename=\"memory-{userId}.json\"";
            try
            {
                await using var writer = new Utf8JsonWriter(context.Response.Body);
                await export.WriteAsync(userId, core, writer, vectors, context.RequestAborted);
            }
            catch (Exception e) when (!context.RequestAborted.IsCancellationRequested)
            {
                // The status line is sent: cut the connection, so the caller holds a truncated
                // document that no JSON reader takes for a whole one, rather than a short one that is valid.
                context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(MemoryApi))
                    .LogWarning(e, "Export of {UserId} failed after it started; the connection was aborted", userId);
                context.Abort();
            }
        }
    }
}
