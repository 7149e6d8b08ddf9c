using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Logging;
using ServerlessMemory.Core;

namespace ServerlessMemory.Functions;

/// <summary>
/// The forgetting sweep on <c>Decay__Schedule</c>, the same one the self-host runs. The engine
/// stops within <c>Decay:SweepBudget</c> and leaves the rest for the next run. Then, within
/// <c>Memory:Backfill:Budget</c>, the vector backfill of memories stored during an embedding outage.
/// </summary>
public sealed partial class DecaySweepFunction(MemoryEngine engine, ILogger<DecaySweepFunction> logger)
{
    [Function("DecaySweep")]
    public async Task Run([TimerTrigger("%Decay__Schedule%")] TimerInfo timer, CancellationToken cancellationToken)
    {
        // The engine logs the sweep (one line, as for the self-host's and the admin route's).
        await engine.SweepAsync(cancellationToken);
        // The vector backfill rides on this timer: no second timer, lease or setting, and a run that finds
        // nothing missing costs one read of an index. Lexical search finds such memories meanwhile.
        var backfill = await engine.BackfillVectorsAsync(cancellationToken);
        if (backfill.Found > 0) LogBackfilled(logger, backfill.Filled, backfill.Found, backfill.EmbeddingsDown);
    }

    [LoggerMessage(Level = LogLevel.Information,
        Message = "DecaySweep backfilled vectors of {Filled} of {Found} memories stored without one (embeddings down: {EmbeddingsDown})")]
    private static partial void LogBackfilled(ILogger logger, int filled, int found, bool embeddingsDown);
}
