using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ServerlessMemory.Core;

namespace ServerlessMemory.Api;

/// <summary>
/// Writes the searches' coalesced accesses every <c>Memory:Accesses:FlushInterval</c> (real time:
/// the interval is no part of the memory model), at once when too many wait, and a last time on a
/// clean shutdown. Both hosts run it: the self-host as a hosted service of its web host, the
/// Functions worker as one of its generic host (on Flex Consumption an instance that scales in is
/// shut down cleanly and flushes; one that is killed loses at most the last interval's accesses).
/// </summary>
public sealed class AccessFlushService(MemoryEngine engine, ILogger<AccessFlushService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (engine.Accesses is not { } recorder) return;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.WhenAny(Task.Delay(recorder.Options.FlushInterval, TimeProvider.System, stoppingToken), recorder.Full);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            if (stoppingToken.IsCancellationRequested) return;
            try
            {
                await recorder.FlushAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogError(e, "Flushing accesses failed");
            }
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        if (engine.Accesses is { } recorder)
        {
            var written = await recorder.FlushAsync(cancellationToken);
            logger.LogInformation("Wrote {Count} accesses on shutdown", written);
        }
    }
}
