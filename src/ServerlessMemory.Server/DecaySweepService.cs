using Microsoft.Extensions.Options;
using ServerlessMemory.Api;
using ServerlessMemory.Core;

namespace ServerlessMemory.Server;

/// <summary>Runs the decay sweep on <c>Decay:Schedule</c>, as the Functions app's DecaySweep timer does.</summary>
internal sealed partial class DecaySweepService(
    MemoryEngine engine, IOptions<DecayOptions> options, TimeProvider time,
    ILogger<DecaySweepService> logger) : BackgroundService
{
    private static readonly TimeSpan MaxWait = TimeSpan.FromDays(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var schedule = DecaySchedule.TryParse(options.Value.Schedule)!;
        while (!stoppingToken.IsCancellationRequested)
        {
            var next = new DateTimeOffset(schedule.GetNextOccurrence(time.GetUtcNow().UtcDateTime), TimeSpan.Zero);
            // Timers take at most ~49 days; a yearly schedule waits in steps.
            for (var wait = next - time.GetUtcNow(); wait > TimeSpan.Zero; wait = next - time.GetUtcNow())
                await Task.Delay(wait < MaxWait ? wait : MaxWait, time, stoppingToken);
            try
            {
                await engine.SweepAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogFailed(logger, e);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Decay sweep failed; the next run picks up what it left")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
