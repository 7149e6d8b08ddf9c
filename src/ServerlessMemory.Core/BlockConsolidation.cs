using System.Text.Json;
using Microsoft.Extensions.AI;

namespace ServerlessMemory.Core;

/// <summary>The small model that rewrites a full block, and the model id to ask for.</summary>
public sealed record BlockRewriter(IChatClient Client, string? ModelId);

/// <summary>How a full block was made to fit, and the archive memories its leaving lines became.</summary>
public sealed record Consolidation(string By, IReadOnlyList<ArchiveItem> Archived)
{
    /// <summary>The small model rewrote the block.</summary>
    public const string Rewrite = "rewrite";
    /// <summary>The oldest lines moved to the archive (no model, or its rewrite failed or did not fit).</summary>
    public const string Oldest = "oldest";
}

/// <summary>What a write of a block did: the block after it, whether it changed, and the consolidation it took, if any.</summary>
public sealed record CoreWrite(MemoryBlock? Block, bool Changed, Consolidation? Consolidation);

/// <summary>
/// Consolidation under pressure (Letta's "rethinking" a block): when a line would push a block past
/// its limit, the block is rewritten to fit by the small model (duplicates merged, contradictions
/// resolved in favour of the newer line). Every line of the old block, and the new one, that the
/// rewrite leaves out is archived, as the block's type of memory and with the time it was learnt:
/// nothing is dropped. When there is no model, it fails, or its answer does not fit, the oldest lines
/// move to the archive instead, until the block fits with room to spare.
/// </summary>
public static class BlockConsolidation
{
    public const string SchemaName = "block_rewrite";

    /// <summary>A rewrite, or the fallback, leaves the block at most this share of its limit, so that it is not rewritten every turn.</summary>
    public const double Target = 0.75;

    private static readonly JsonElement Schema = JsonDocument.Parse("""
        {
          "type": "object",
          "properties": { "lines": { "type": "array", "items": { "type": "string" } } },
          "required": ["lines"],
          "additionalProperties": false
        }
        """).RootElement.Clone();

    /// <summary>The archive type of a line that leaves a block.</summary>
    public static MemoryType TypeOf(string label) => label switch
    {
        "human" => MemoryType.Identity,
        "preferences" => MemoryType.Preference,
        "active_goals" => MemoryType.Context,
        _ => MemoryType.Fact,
    };

    /// <summary>
    /// Applies a model's edit of a block (an append or a replace, from extraction, a tool call, the MCP
    /// tools or the tools route alike) and, when the block would pass its limit, consolidates it
    /// instead of refusing: the lines the edit would leave are rewritten to fit (or the oldest move),
    /// and every line that leaves the block is archived. Throws what the edit throws otherwise, and
    /// the overflow itself when a line that would leave is too long for the archive.
    /// </summary>
    public static async Task<CoreWrite> WriteAsync(MemoryUnitOfWork work, CoreEdit edit, CancellationToken cancellationToken)
    {
        var updates = work.Updates.Count;
        try
        {
            var block = await work.EditCoreAsync(edit, byModel: true, cancellationToken);
            return new(block, work.Updates.Count > updates, null);
        }
        catch (BlockOverflowException full) when (edit is AppendLine or ReplaceText)
        {
            var consolidation = await ConsolidateAsync(work, full.Block, cancellationToken);
            if (consolidation is null) throw;
            return new((await work.GetCoreAsync(cancellationToken)).Find(edit.Label), true, consolidation);
        }
    }

    /// <summary>
    /// Fits <paramref name="wouldBe"/>'s lines (the block as an edit would leave it, over its limit)
    /// into the block: rewritten by the small model, or the oldest lines moved out. Null when a line
    /// that would leave is longer than an archive memory may be (nothing is changed then).
    /// </summary>
    private static async Task<Consolidation?> ConsolidateAsync(MemoryUnitOfWork work, MemoryBlock wouldBe, CancellationToken cancellationToken)
    {
        var label = wouldBe.Label;
        var block = (await work.GetCoreAsync(cancellationToken)).Find(label)!;
        var lines = wouldBe.Lines.Distinct(StringComparer.Ordinal).ToList();
        var before = block.Lines.ToHashSet(StringComparer.Ordinal);
        var target = (int)(block.Limit * Target);
        var rewritten = work.Rewriter is null ? null : await RewriteAsync(work.Rewriter, block, lines, target, cancellationToken);
        var kept = rewritten ?? Fallback(lines, target);
        var keptSet = kept.ToHashSet(StringComparer.Ordinal);
        var leaving = lines.Where(l => !keptSet.Contains(l)).ToList();
        if (leaving.Any(l => !Characters.Fit(l, work.Engine.Limits.ArchiveChars))) return null;

        var now = work.Engine.Now();
        var archived = new List<ArchiveItem>();
        foreach (var line in leaving)
        {
            // A line learnt earlier keeps the time it was learnt; the edit's own lines are learnt now.
            var learnt = before.Contains(line) && block.Added?.GetValueOrDefault(line) is { } at && at != default ? at : now;
            var (item, _) = await work.AddArchiveAsync(new NewMemory(line, TypeOf(label), 0.5, learnt,
                new Dictionary<string, string> { ["source"] = $"core:{label}" }), cancellationToken);
            archived.Add(item);
        }
        await work.EditCoreAsync(new RewriteBlock(label, [.. before.Where(l => !keptSet.Contains(l))], [.. kept.Where(l => !before.Contains(l))]),
            byModel: true, cancellationToken);
        return new(rewritten is null ? Consolidation.Oldest : Consolidation.Rewrite, archived);
    }

    /// <summary>The oldest lines go until the rest, newest last, fits the target (a line too long for it on its own goes too).</summary>
    internal static List<string> Fallback(List<string> lines, int target)
    {
        var kept = new List<string>();
        var length = -1;
        for (var i = lines.Count - 1; i >= 0; i--)
        {
            var chars = Characters.Count(lines[i]);
            if (chars > target) continue;
            if (length + 1 + chars > target) break;
            length += 1 + chars;
            kept.Insert(0, lines[i]);
        }
        return kept;
    }

    /// <summary>The model's rewrite as lines, or null when it failed or answered something that does not fit.</summary>
    private static async Task<List<string>?> RewriteAsync(BlockRewriter rewriter, MemoryBlock block, List<string> lines, int target, CancellationToken cancellationToken)
    {
        try
        {
            var response = await rewriter.Client.GetResponseAsync(
            [
                new(ChatRole.System, $"""
                    Rewrite a block of an assistant's core memory about its user so that it fits in {target} characters.
                    Merge duplicates, resolve contradictions in favour of the later line (lines are oldest first),
                    keep what matters most about the user; leave out details (they are kept in the archive).
                    One fact per line, in the block's language. Answer with the lines only.
                    """),
                new(ChatRole.User, $"Block '{block.Label}' ({block.Description}):\n{string.Join('\n', lines)}"),
            ], new ChatOptions
            {
                ModelId = rewriter.ModelId,
                Temperature = 0,
                ResponseFormat = ChatResponseFormat.ForJsonSchema(Schema, SchemaName, "The rewritten block."),
            }, cancellationToken);
            using var answer = JsonDocument.Parse(response.Text);
            var rewritten = answer.RootElement.GetProperty("lines").EnumerateArray()
                .Select(l => l.ValueKind == JsonValueKind.String ? l.GetString()!.Trim() : "")
                .Where(l => l.Length > 0).Distinct(StringComparer.Ordinal).ToList();
            var length = rewritten.Sum(l => Characters.Count(l) + 1) - 1;
            return rewritten.Count > 0 && length <= block.Limit && rewritten.All(l => !l.Contains('\n', StringComparison.Ordinal)) ? rewritten : null;
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // Any failure of the helper model falls back to the deterministic rule.
            return null;
        }
    }
}
