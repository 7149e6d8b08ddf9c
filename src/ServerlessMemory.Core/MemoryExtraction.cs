using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace ServerlessMemory.Core;

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

    public static List<ChatMessage> Request(CoreMemory core, string userMessage)
    {
        var memory = new StringBuilder("Core memory:\n");
        foreach (var block in core.Blocks.Where(b => !b.ReadOnly && b.Label != "persona"))
            memory.Append($"[{block.Label}]\n{block.Value}\n");
        return [new(ChatRole.System, Instructions), new(ChatRole.User, $"{memory}\nThe user's message:\n{userMessage}")];
    }

    public static ChatOptions Options(string? modelId) => new()
    {
        ModelId = modelId,
        Temperature = 0,
        ResponseFormat = ChatResponseFormat.ForJsonSchema(Schema, SchemaName, "Memories to keep from the user's message."),
    };

    /// <summary>Applies a proposal to the turn's unit of work; returns how many items were dropped as invalid.</summary>
    public static async Task<int> ApplyAsync(MemoryUnitOfWork work, string json, CancellationToken cancellationToken)
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
        if (root.ValueKind != JsonValueKind.Object) return 1;
        if (root.TryGetProperty("core", out var core) && core.ValueKind == JsonValueKind.Array)
            foreach (var edit in core.EnumerateArray())
                dropped += await TryAsync(() => MemoryTools.InvokeAsync(work, "core_memory_append",
                    Args(("label", edit.GetPropertyOrNull("label")), ("content", edit.GetPropertyOrNull("line"))), cancellationToken));
        if (root.TryGetProperty("archive", out var archive) && archive.ValueKind == JsonValueKind.Array)
            foreach (var item in archive.EnumerateArray())
                dropped += await TryAsync(() => MemoryTools.InvokeAsync(work, MemoryTools.ArchiveContent,
                    Args(("content", item.GetPropertyOrNull("content")), ("type", item.GetPropertyOrNull("type")),
                        ("importance", item.GetPropertyOrNull("importance") is { ValueKind: JsonValueKind.Number } n
                            ? JsonSerializer.SerializeToElement(Math.Clamp(n.GetDouble(), 0, 1)) : null)), cancellationToken));
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
