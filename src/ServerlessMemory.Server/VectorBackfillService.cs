using Microsoft.Extensions.Options;
using ServerlessMemory.Core;

namespace ServerlessMemory.Server;

/// <summary>
/// Gives vectors to the memories stored without one during an embedding outage, every
/// <c>Memory:Backfill:Interval</c> (the Functions app does it after each decay sweep). A run finds
/// nothing to do at the cost of one read of an index of what is missing, and asks the model nothing
/// while embeddings are paused after a failure.
/// </summary>
internal sealed partial class VectorBackfillService(
    MemoryEngine engine, IOptions<VectorBackfillOptions> options, TimeProvider time,
    ILogger<VectorBackfillService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = options.Value.Interval;
        if (interval <= TimeSpan.Zero || engine.Embedder is null) return;
        while (!stoppingToken.IsCancellationRequested)
        {
            await Task.Delay(interval, time, stoppingToken);
            try
            {
                await engine.BackfillVectorsAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogFailed(logger, e);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Vector backfill failed; the next run picks up what it left")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
