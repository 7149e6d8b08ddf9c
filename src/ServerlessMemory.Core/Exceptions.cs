namespace ServerlessMemory.Core;

/// <summary>Input that breaks a rule of the memory model; the hosts answer 400.</summary>
public sealed class MemoryValidationException(string field, string message) : Exception(message)
{
    public string Field { get; } = field;
}

/// <summary>Another writer changed the document first (an ETag mismatch); the hosts answer 412.</summary>
public sealed class MemoryConflictException(string message) : Exception(message);

/// <summary>A named thing that is not there; the hosts answer 404.</summary>
public sealed class MemoryNotFoundException(string message) : Exception(message);
