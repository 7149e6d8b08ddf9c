using System.Text.Json;
using Microsoft.Extensions.AI;

namespace ServerlessMemory.Core;

/// <summary>The small model that rewrites a full block, and the model id to ask for.</summary>
public sealed record BlockRewriter(IChatClient Client, string? ModelId);

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
    /// Appends <paramref name="line"/> to the block, consolidating it first when it would not fit.
    /// Returns how the line was kept: <c>append</c>, <c>consolidate</c> (model) or <c>fallback</c>;
    /// null when the line was there already.
    /// </summary>
    public static async Task<string?> AppendAsync(MemoryUnitOfWork work, string label, string line, BlockRewriter? rewriter, CancellationToken cancellationToken)
    {
        line = line.Trim();
        var block = (await work.GetCoreAsync(cancellationToken)).Find(label)
            ?? throw new MemoryValidationException("label", $"There is no core memory block '{label}'.");
        if (block.ReadOnly) throw new MemoryValidationException("label", $"Core memory block '{label}' is read-only.");
        if (line.Length == 0 || block.Lines.Contains(line)) return null;
        var append = new AppendLine(label, line);
        if (Characters.Fit(append.ValueAfter(block), block.Limit))
        {
            await work.EditCoreAsync(append, byModel: true, cancellationToken);
            return "append";
        }

        var lines = block.Lines.Append(line).ToList();
        var target = (int)(block.Limit * Target);
        var rewritten = rewriter is null ? null : await RewriteAsync(rewriter, block, lines, target, cancellationToken);
        var kept = rewritten ?? Fallback(lines, target);
        var keptSet = kept.ToHashSet(StringComparer.Ordinal);
        var now = work.Engine.Now();
        foreach (var leaving in lines.Where(l => !keptSet.Contains(l)))
        {
            var learnt = leaving == line ? now : block.Added?.GetValueOrDefault(leaving) is { } at && at != default ? at : now;
            await work.AddArchiveAsync(new NewMemory(leaving, TypeOf(label), 0.5, learnt,
                new Dictionary<string, string> { ["source"] = $"core:{label}" }), cancellationToken);
        }
        await work.EditCoreAsync(new RewriteBlock(label, [.. block.Lines.Where(l => !keptSet.Contains(l))], [.. kept.Where(l => !block.Lines.Contains(l))]),
            byModel: true, cancellationToken);
        return rewritten is null ? "fallback" : "consolidate";
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
