namespace ServerlessMemory.Core;

/// <summary>Input that breaks a rule of the memory model; the hosts answer 400.</summary>
public class MemoryValidationException(string field, string message) : Exception(message)
{
    public string Field { get; } = field;

    /// <summary>A continuation token no store of this API gave out (or one of another store), as every store says it.</summary>
    public static MemoryValidationException ForeignContinuationToken() =>
        new("continuationToken", "The continuation token is not one this API gave out.");
}

/// <summary>Another writer changed the document first (an ETag mismatch); the hosts answer 412.</summary>
public sealed class MemoryConflictException(string message, string document = "core") : Exception(message)
{
    /// <summary><c>core</c> or <c>session</c>: which document another writer changed.</summary>
    public string Document { get; } = document;
}

/// <summary>The model is not configured, or stayed unavailable after retries; the hosts answer 503.</summary>
public sealed class ModelUnavailableException(string message, TimeSpan? retryAfter = null, Exception? inner = null) : Exception(message, inner)
{
    public TimeSpan RetryAfter { get; } = retryAfter ?? TimeSpan.FromSeconds(30);
}

/// <summary>
/// The store did not answer within <c>Memory:Limits:StoreTimeout</c>, or its service was throttling or
/// unavailable past its client's retries; the hosts answer 503 with <see cref="RetryAfter"/>.
/// </summary>
public sealed class StoreUnavailableException(string message, TimeSpan retryAfter, Exception? inner = null) : Exception(message, inner)
{
    public TimeSpan RetryAfter { get; } = retryAfter;
}

/// <summary>No chat model is configured; the hosts answer 501 (no retry helps until the settings change).</summary>
public sealed class ModelNotConfiguredException(string message) : Exception(message);

/// <summary>The model answered, but not with anything a turn can use (an error, a broken or empty answer); the hosts answer 502.</summary>
public sealed class ModelFailedException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>A named thing that is not there; the hosts answer 404.</summary>
public sealed class MemoryNotFoundException(string message) : Exception(message);

/// <summary>
/// An edit would leave a block over its limit; <see cref="Block"/> is the block as the edit would
/// leave it, so that a writer that consolidates (<see cref="BlockConsolidation"/>) knows its lines.
/// </summary>
public sealed class BlockOverflowException(MemoryBlock block) : MemoryValidationException("value",
    $"Block '{block.Label}' would hold {Characters.Count(block.Value)} characters; its limit is {block.Limit}.")
{
    public MemoryBlock Block { get; } = block;
}

/// <summary>
/// An <see cref="MemoryChangeSet.Atomic"/> change set larger than one transaction of the store can
/// hold; nothing was written. The writer splits it and tries again.
/// </summary>
public sealed class ChangeSetTooLargeException(string message) : Exception(message);
