using System.Text.RegularExpressions;

namespace ServerlessMemory.Core;

/// <summary>A labelled block of core memory, always in the prompt (Letta's memory block).</summary>
public sealed record MemoryBlock(string Label, string Value, int Limit, string Description, bool ReadOnly = false)
{
    /// <summary>
    /// When lines were appended, by their text: a line moved to the archive when the block is
    /// consolidated keeps the time it was learnt. Lines written otherwise have none.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyDictionary<string, DateTimeOffset>? Added { get; init; }

    public IReadOnlyList<string> Lines => [.. Value.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0)];

    /// <summary>The block with a new value; times are kept for lines still there and set for <paramref name="stamped"/>.</summary>
    public MemoryBlock WithLines(string value, IEnumerable<string> stamped, DateTimeOffset? at)
    {
        var present = value.Split('\n').Select(l => l.Trim()).ToHashSet(StringComparer.Ordinal);
        var added = (Added ?? new Dictionary<string, DateTimeOffset>()).Where(a => present.Contains(a.Key)).ToDictionary(a => a.Key, a => a.Value, StringComparer.Ordinal);
        if (at is { } time)
            foreach (var line in stamped)
                if (present.Contains(line.Trim())) added.TryAdd(line.Trim(), time);
        return this with { Value = value, Added = added.Count == 0 ? null : added };
    }
}

/// <summary>A user's core memory: its blocks and the store's version tag (null until first written).</summary>
public sealed partial record CoreMemory(IReadOnlyList<MemoryBlock> Blocks, string? ETag)
{
    public const string DefaultPersona =
        "I am a helpful assistant with long-term memory. I keep what I learn about the user in my core " +
        "memory and archive, and I answer from memory when the user refers to earlier conversations.";

    public static CoreMemory CreateDefault(int limit) => new(
    [
        new("persona", DefaultPersona, Math.Max(limit, DefaultPersona.Length), "Who the assistant is and how it behaves."),
        new("human", "", limit, "Who the user is: name, role, background."),
        new("preferences", "", limit, "How the user likes things done, one per line."),
        new("key_facts", "", limit, "Facts about the user's life and work worth keeping, one per line."),
        new("active_goals", "", limit, "What the user is working towards right now, one per line."),
    ], null);

    public MemoryBlock? Find(string label) => Blocks.FirstOrDefault(b => b.Label == label);

    public CoreMemory With(MemoryBlock block)
    {
        var blocks = Blocks.ToList();
        var index = blocks.FindIndex(b => b.Label == block.Label);
        if (index < 0) blocks.Add(block); else blocks[index] = block;
        return this with { Blocks = blocks };
    }

    public CoreMemory Without(string label) => this with { Blocks = Blocks.Where(b => b.Label != label).ToList() };

    /// <summary>The ETag of core memory that was never written (stores' tags are never "0").</summary>
    public const string NewETag = "0";

    public static bool IsValidLabel(string? label) => label is not null && LabelPattern().IsMatch(label);

    // \z, not $: '$' also matches before a final newline.
    [GeneratedRegex(@"^[a-z][a-z0-9_-]{0,63}\z")]
    private static partial Regex LabelPattern();
}

/// <summary>
/// An edit of core memory kept as an operation rather than a result, so that when another writer
/// changed the document meanwhile the edit can be applied again to the fresh one and nothing is lost.
/// </summary>
public abstract record CoreEdit(string Label)
{
    /// <summary>Applies the edit; returns the new memory, or throws <see cref="MemoryValidationException"/>.</summary>
    public abstract CoreMemory ApplyTo(CoreMemory core, MemoryLimits limits);

    /// <summary>Applies the edit again to a document another writer changed meanwhile.</summary>
    public virtual CoreMemory ReapplyTo(CoreMemory core, MemoryLimits limits) => ApplyTo(core, limits);

    protected static MemoryBlock Existing(CoreMemory core, string label, bool byModel)
    {
        var block = core.Find(label) ?? throw new MemoryValidationException("field", $"There is no core memory block '{label}'.");
        if (block.ReadOnly && byModel)
            throw new MemoryValidationException("field", $"Core memory block '{label}' is read-only.");
        return block;
    }

    protected static MemoryBlock Checked(MemoryBlock block)
    {
        if (!Characters.Fit(block.Value, block.Limit)) throw new BlockOverflowException(block);
        return block;
    }
}

/// <summary>Adds a line to a block unless an identical line is already there; <see cref="At"/> is when it was learnt.</summary>
public sealed record AppendLine(string Label, string Line, DateTimeOffset? At = null) : CoreEdit(Label)
{
    public override CoreMemory ApplyTo(CoreMemory core, MemoryLimits limits)
    {
        var block = Existing(core, Label, byModel: true);
        var line = Line.Trim();
        if (line.Length == 0 || block.Value.Split('\n').Any(l => l.Trim() == line)) return core;
        return core.With(Checked(block.WithLines(ValueAfter(block), [line], At)));
    }

    /// <summary>The block's value with the line appended.</summary>
    public string ValueAfter(MemoryBlock block) => block.Value.Length == 0 ? Line.Trim() : block.Value.TrimEnd('\n') + "\n" + Line.Trim();
}

/// <summary>
/// A block rewritten to fit its limit (consolidation): <see cref="Removed"/> lines leave it (they were
/// archived), <see cref="Added"/> lines join it. As an operation it applies to a block that changed
/// meanwhile too: lines a concurrent writer added stay.
/// </summary>
public sealed record RewriteBlock(string Label, IReadOnlyList<string> Removed, IReadOnlyList<string> Added, DateTimeOffset? At = null) : CoreEdit(Label)
{
    public override CoreMemory ApplyTo(CoreMemory core, MemoryLimits limits)
    {
        var block = Existing(core, Label, byModel: true);
        var removed = Removed.Select(l => l.Trim()).ToHashSet(StringComparer.Ordinal);
        var lines = block.Lines.Where(l => !removed.Contains(l)).ToList();
        foreach (var line in Added.Select(l => l.Trim()).Where(l => l.Length > 0))
            if (!lines.Contains(line)) lines.Add(line);
        return core.With(Checked(block.WithLines(string.Join('\n', lines), Added, At)));
    }
}

/// <summary>Replaces exact text in a block (Letta's core_memory_replace), or the whole value when Old is null.</summary>
public sealed record ReplaceText(string Label, string? Old, string New) : CoreEdit(Label)
{
    public override CoreMemory ApplyTo(CoreMemory core, MemoryLimits limits)
    {
        var block = Existing(core, Label, byModel: true);
        string value;
        if (Old is null) value = New;
        else if (block.Value.Contains(Old, StringComparison.Ordinal)) value = block.Value.Replace(Old, New, StringComparison.Ordinal);
        else throw new MemoryValidationException(OldField, $"Block '{Label}' does not contain the text to replace.");
        return core.With(Checked(block with { Value = value }));
    }

    /// <summary>The argument that names the old text: 'old' or Letta's 'old_content'.</summary>
    public string OldField { get; init; } = "old";

    /// <summary>A concurrent writer may have made this very replacement: then there is nothing left to do.</summary>
    public override CoreMemory ReapplyTo(CoreMemory core, MemoryLimits limits) =>
        Old is not null && core.Find(Label) is { } block && !block.Value.Contains(Old, StringComparison.Ordinal)
                        && block.Value.Contains(New, StringComparison.Ordinal)
            ? core
            : ApplyTo(core, limits);
}

/// <summary>Writes a block from the API: creates it, or sets its value, description and limit.</summary>
public sealed record SetBlock(string Label, string Value, string? Description, int? Limit, bool? ReadOnly) : CoreEdit(Label)
{
    public override CoreMemory ApplyTo(CoreMemory core, MemoryLimits limits)
    {
        var existing = core.Find(Label);
        if (existing is { ReadOnly: true } && ReadOnly is not false)
            throw new MemoryValidationException("readOnly", $"Core memory block '{Label}' is read-only; send \"readOnly\": false to change it.");
        if (existing is null && core.Blocks.Count >= limits.MaxBlocks)
            throw new MemoryValidationException("label", $"A user has at most {limits.MaxBlocks} core memory blocks.");
        var block = new MemoryBlock(
            Label,
            Value,
            Limit ?? existing?.Limit ?? limits.BlockLimit,
            Description ?? existing?.Description ?? "",
            ReadOnly ?? existing?.ReadOnly ?? false);
        return core.With(Checked(block));
    }
}

public sealed record DeleteBlock(string Label) : CoreEdit(Label)
{
    public override CoreMemory ApplyTo(CoreMemory core, MemoryLimits limits) => core.Find(Label) switch
    {
        null => core,
        { ReadOnly: true } => throw new MemoryValidationException("label", $"Core memory block '{Label}' is read-only; PUT it with \"readOnly\": false before deleting it."),
        _ => core.Without(Label),
    };
}
