using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace ServerlessMemory.Core;

/// <summary>What extraction may write (never read-only blocks nor <see cref="ExcludedBlocks"/>), how much, and the model that consolidates a full block.</summary>
public sealed record ExtractionRules(IReadOnlyCollection<string> ExcludedBlocks, int MaxItems, BlockRewriter? Rewriter = null)
{
    public static ExtractionRules Default { get; } = new(["persona"], 8);
}

/// <summary>
/// The seed's first step done concurrently: a small model reads the user's message and core memory
/// and answers, as JSON-schema structured output, what to keep: lines for core blocks and archive
/// memories with a type and an importance. What it proposes goes through the same checks as a tool
/// call; a proposal that breaks a rule is dropped, never stored half-way.
/// </summary>
public static class MemoryExtraction
{
    public const string SchemaName = "memory_extraction";

    public static readonly JsonElement Schema = JsonDocument.Parse("""
        {
          "type": "object",
          "properties": {
            "core": {
              "type": "array",
              "description": "Lasting facts about the user for core memory, one line each.",
              "items": {
                "type": "object",
                "properties": {
                  "label": { "type": "string", "description": "The block: human, preferences, key_facts or active_goals." },
                  "line": { "type": "string" }
                },
                "required": ["label", "line"],
                "additionalProperties": false
              }
            },
            "archive": {
              "type": "array",
              "description": "Other things worth remembering later.",
              "items": {
                "type": "object",
                "properties": {
                  "content": { "type": "string" },
                  "type": { "type": "string", "enum": ["identity", "preference", "fact", "context", "trivial"] },
                  "importance": { "type": "number" }
                },
                "required": ["content", "type", "importance"],
                "additionalProperties": false
              }
            }
          },
          "required": ["core", "archive"],
          "additionalProperties": false
        }
        """).RootElement.Clone();

    private const string Instructions = """
        You maintain the long-term memory of an assistant. Read the user's latest message and the
        current core memory. Propose only what is new and worth keeping:
        - core: short lines for the blocks human (who the user is), preferences, key_facts, active_goals;
        - archive: other memories as self-contained sentences, with a type (identity, preference, fact,
          context, trivial) and an importance from 0 to 1.
        Propose nothing already in core memory. Empty arrays when there is nothing to keep.
        """;

    public static List<ChatMessage> Request(CoreMemory core, string userMessage, IReadOnlyCollection<string>? excludedBlocks = null)
    {
        var memory = new StringBuilder("Core memory:\n");
        foreach (var block in core.Blocks.Where(b => !b.ReadOnly && !(excludedBlocks ?? ExtractionRules.Default.ExcludedBlocks).Contains(b.Label)))
            memory.Append($"[{block.Label}]\n{block.Value}\n");
        return [new(ChatRole.System, Instructions), new(ChatRole.User, $"{memory}\nThe user's message:\n{userMessage}")];
    }

    public static ChatOptions Options(string? modelId) => new()
    {
        ModelId = modelId,
        Temperature = 0,
        ResponseFormat = ChatResponseFormat.ForJsonSchema(Schema, SchemaName, "Memories to keep from the user's message."),
    };

    /// <summary>Applies a proposal to the turn's unit of work with the default rules; returns how many items were dropped.</summary>
    public static Task<int> ApplyAsync(MemoryUnitOfWork work, string json, CancellationToken cancellationToken) =>
        ApplyAsync(work, json, ExtractionRules.Default, cancellationToken);

    /// <summary>
    /// Applies a proposal to the turn's unit of work; returns how many items were dropped: invalid,
    /// for a block extraction may not write (read-only, or excluded such as <c>persona</c>), or past
    /// <see cref="ExtractionRules.MaxItems"/>. A line for a full block consolidates it (<see cref="BlockConsolidation"/>).
    /// </summary>
    public static async Task<int> ApplyAsync(MemoryUnitOfWork work, string json, ExtractionRules rules, CancellationToken cancellationToken)
    {
        JsonElement root;
        try
        {
            root = JsonDocument.Parse(json).RootElement;
        }
        catch (JsonException)
        {
            return 1;
        }
        var dropped = 0;
        var left = rules.MaxItems;
        if (root.ValueKind != JsonValueKind.Object) return 1;
        if (root.TryGetProperty("core", out var core) && core.ValueKind == JsonValueKind.Array)
            foreach (var edit in core.EnumerateArray())
            {
                if (left <= 0 || edit.GetPropertyOrNull("label") is not { ValueKind: JsonValueKind.String } label
                    || edit.GetPropertyOrNull("line") is not { ValueKind: JsonValueKind.String } line
                    || !CoreMemory.IsValidLabel(label.GetString()) || rules.ExcludedBlocks.Contains(label.GetString()!)
                    || line.GetString()!.Length > work.Engine.Limits.MaxBlockLimit)
                {
                    dropped++;
                    continue;
                }
                dropped += await TryAsync(async () =>
                {
                    if (await BlockConsolidation.AppendAsync(work, label.GetString()!, line.GetString()!, rules.Rewriter, cancellationToken) is not null) left--;
                });
            }
        if (root.TryGetProperty("archive", out var archive) && archive.ValueKind == JsonValueKind.Array)
            foreach (var item in archive.EnumerateArray())
            {
                if (left-- <= 0)
                {
                    dropped++;
                    continue;
                }
                dropped += await TryAsync(() => MemoryTools.InvokeAsync(work, MemoryTools.ArchiveContent,
                    Args(("content", item.GetPropertyOrNull("content")), ("type", item.GetPropertyOrNull("type")),
                        ("importance", item.GetPropertyOrNull("importance") is { ValueKind: JsonValueKind.Number } n
                            ? JsonSerializer.SerializeToElement(Math.Clamp(n.GetDouble(), 0, 1)) : null)), cancellationToken));
            }
        return dropped;
    }

    private static async Task<int> TryAsync(Func<Task> apply)
    {
        try
        {
            await apply();
            return 0;
        }
        catch (Exception e) when (e is MemoryValidationException or MemoryNotFoundException)
        {
            return 1;
        }
    }

    private static JsonElement? GetPropertyOrNull(this JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) ? value : null;

    private static JsonElement Args(params (string Name, JsonElement? Value)[] args) =>
        JsonSerializer.SerializeToElement(args.Where(a => a.Value is not null).ToDictionary(a => a.Name, a => a.Value!.Value));
}
