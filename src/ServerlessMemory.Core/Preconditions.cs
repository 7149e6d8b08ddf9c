namespace ServerlessMemory.Core;

/// <summary>
/// An <c>If-Match</c> on core memory (RFC 9110 §13.1.1): <c>*</c> holds when the block exists; a
/// list holds when one strong tag equals core memory's ETag (<see cref="CoreMemory.NewETag"/> for a
/// never-written one) and, with <see cref="BlockMustExist"/>, the block exists. Weak tags never match.
/// </summary>
public sealed record CorePrecondition(bool Any, IReadOnlyList<string> ETags, bool BlockMustExist)
{
    public bool Holds(CoreMemory core, string label)
    {
        var exists = core.Find(label) is not null;
        if (Any) return exists;
        return ETags.Contains(core.ETag ?? CoreMemory.NewETag, StringComparer.Ordinal) && (exists || !BlockMustExist);
    }
}
