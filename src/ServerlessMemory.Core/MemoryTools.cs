using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;

namespace ServerlessMemory.Core;

/// <summary>A memory tool as the model and <c>GET /api/tools</c> see it.</summary>
public sealed record MemoryToolDefinition(string Name, string Description, JsonElement Parameters);

/// <summary>
/// The tools the model calls to edit its own memory (MemGPT's self-editing memory), with the seed's
/// names and Letta's semantics; Letta's own names are accepted as aliases. Every call acts on a
/// unit of work that is already bound to one user: no argument can reach another user's data.
/// </summary>
public static class MemoryTools
{
    public const string SearchArchive = "search_archive";
    public const string ArchiveContent = "archive_content";
    public const string UpdateCoreMemory = "update_core_memory";
    public const string SearchConversation = "search_conversation";

    /// <summary>The tools the model is offered, in the order it is offered them.</summary>
    public static IReadOnlyList<string> Names { get; } = [SearchArchive, ArchiveContent, UpdateCoreMemory, SearchConversation];

    /// <summary>A query's longest text, in characters (searches of the archive and of the conversation).</summary>
    private const int QueryChars = 1000;

    /// <summary>A conversation search's most results.</summary>
    private const int MaxConversationResults = 50;

    /// <summary>
    /// The tools as the model, <c>GET /api/tools</c> and MCP's <c>tools/list</c> see them, with the limits
    /// <see cref="InvokeAsync"/> enforces read from <paramref name="limits"/>: the schema says what a call may
    /// hold under the settings the service runs with (<see cref="MemoryEngine.Tools"/> keeps them).
    /// </summary>
    public static IReadOnlyList<MemoryToolDefinition> Definitions(MemoryLimits limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        return
        [
            Define(SearchArchive,
                "Search long-term archive memory for things learned in earlier conversations. Use it when the user refers to something not in core memory.",
                $$$"""{"type":"object","properties":{"query":{"type":"string","minLength":1,"maxLength":{{{QueryChars}}},"description":"What to look for, in the user's language."},"top_k":{"type":"integer","minimum":1,"maximum":{{{limits.MaxTop}}},"description":"How many memories to return (default 5)."}},"required":["query"],"additionalProperties":false}"""),
            Define(ArchiveContent,
                "Store something worth remembering later in archive memory: facts, events, details too long or too specific for core memory.",
                $$$"""{"type":"object","properties":{"content":{"type":"string","minLength":1,"maxLength":{{{limits.ArchiveChars}}},"description":"The memory, as a self-contained sentence."},"type":{"type":"string","enum":["identity","preference","fact","context","trivial"],"description":"How long it should be kept: identity is never forgotten, trivial fades within hours (default fact)."},"importance":{"type":"number","minimum":0,"maximum":1,"description":"0 to 1 (default 0.5)."}},"required":["content"],"additionalProperties":false}"""),
            Define(UpdateCoreMemory,
                "Edit a block of core memory, which is always in your prompt. mode append adds value as a new line; replace with old replaces that exact text by value; replace without old overwrites the block.",
                """{"type":"object","properties":{"field":{"type":"string","description":"The block's label, e.g. human, preferences, key_facts, active_goals."},"value":{"type":"string","description":"The text to add, or the new text."},"mode":{"type":"string","enum":["append","replace"],"description":"append (default) or replace."},"old":{"type":"string","description":"With replace: the exact text to replace."}},"required":["field","value"],"additionalProperties":false}"""),
            Define(SearchConversation,
                "Search earlier messages of the conversation, including those no longer in your prompt.",
                $$$"""{"type":"object","properties":{"query":{"type":"string","minLength":1,"maxLength":{{{QueryChars}}}},"limit":{"type":"integer","minimum":1,"maximum":{{{MaxConversationResults}}},"description":"How many messages to return (default 10)."}},"required":["query"],"additionalProperties":false}"""),
        ];
    }

    /// <summary>Letta's tool names with Letta's arguments, accepted by dispatch and by the chat turn's tool loop.</summary>
    public static IReadOnlyList<MemoryToolDefinition> AliasDefinitions { get; } =
    [
        Define("core_memory_append", "Letta's name: append a line to a core memory block.",
            """{"type":"object","properties":{"label":{"type":"string"},"content":{"type":"string"},"request_heartbeat":{"type":"boolean"}},"required":["label","content"],"additionalProperties":false}"""),
        Define("core_memory_replace", "Letta's name: replace exact text in a core memory block.",
            """{"type":"object","properties":{"label":{"type":"string"},"old_content":{"type":"string"},"new_content":{"type":"string"},"request_heartbeat":{"type":"boolean"}},"required":["label","old_content","new_content"],"additionalProperties":false}"""),
        Define("archival_memory_insert", "Letta's name: store a memory in the archive.",
            """{"type":"object","properties":{"content":{"type":"string"},"request_heartbeat":{"type":"boolean"}},"required":["content"],"additionalProperties":false}"""),
        Define("archival_memory_search", "Letta's name: search the archive.",
            """{"type":"object","properties":{"query":{"type":"string"},"page":{"type":"integer"},"top_k":{"type":"integer"},"request_heartbeat":{"type":"boolean"}},"required":["query"],"additionalProperties":false}"""),
        Define("conversation_search", "Letta's name: search earlier messages.",
            """{"type":"object","properties":{"query":{"type":"string"},"page":{"type":"integer"},"limit":{"type":"integer"},"request_heartbeat":{"type":"boolean"}},"required":["query"],"additionalProperties":false}"""),
    ];

    /// <summary>Letta's tool names, accepted by dispatch.</summary>
    public static IReadOnlyCollection<string> Aliases { get; } = [.. AliasDefinitions.Select(d => d.Name)];

    /// <summary>
    /// Letta's names as functions the tool loop can call without offering them to the model (give
    /// them to <c>FunctionInvokingChatClient.AdditionalTools</c>): a model trained on Letta's names
    /// uses them anyway. Each acts on the unit of work of the turn's own bound tools.
    /// </summary>
    public static IList<AITool> AliasTools { get; } = [.. AliasDefinitions.Select(d => new BoundTool(d, null))];

    public static bool Exists(string name) => Names.Contains(name) || Aliases.Contains(name);

    /// <summary>Runs a tool; <see cref="MemoryNotFoundException"/> for an unknown name, <see cref="MemoryValidationException"/> for bad arguments.</summary>
    public static async Task<JsonNode> InvokeAsync(MemoryUnitOfWork work, string name, JsonElement arguments, CancellationToken cancellationToken = default)
    {
        var args = new Arguments(arguments);
        var limits = work.Engine.Limits;
        switch (name)
        {
            case SearchArchive:
                args.Allow("query", "top_k");
                return await Search(work, args.String("query", 1, QueryChars)!, args.Int("top_k", 1, limits.MaxTop) ?? 5, cancellationToken);
            case "archival_memory_search":
                args.Allow("query", "page", "top_k", "request_heartbeat");
                return await Search(work, args.String("query", 1, QueryChars)!, args.Int("top_k", 1, limits.MaxTop) ?? 5, cancellationToken);

            case ArchiveContent:
                args.Allow("content", "type", "importance");
                return await Archive(work, args.String("content", 1, limits.ArchiveChars)!, args.Type("type"), args.Number("importance", 0, 1), cancellationToken);
            case "archival_memory_insert":
                args.Allow("content", "request_heartbeat");
                return await Archive(work, args.String("content", 1, limits.ArchiveChars)!, null, null, cancellationToken);

            case UpdateCoreMemory:
            {
                args.Allow("field", "value", "mode", "old");
                var field = args.Label("field");
                var value = args.String("value", 0, limits.MaxBlockLimit)!;
                var mode = args.Enum("mode", "append", "replace") ?? "append";
                var old = args.String("old", 1, limits.MaxBlockLimit, required: false);
                if (old is not null && mode == "append")
                    throw new MemoryValidationException("old", "'old' is only used with mode 'replace'.");
                return await Edit(work, mode == "append" ? new AppendLine(field, value) : new ReplaceText(field, old, value), cancellationToken);
            }
            case "core_memory_append":
                args.Allow("label", "content", "request_heartbeat");
                return await Edit(work, new AppendLine(args.Label("label"), args.String("content", 0, limits.MaxBlockLimit)!), cancellationToken);
            case "core_memory_replace":
                args.Allow("label", "old_content", "new_content", "request_heartbeat");
                return await Edit(work, new ReplaceText(args.Label("label"), args.String("old_content", 1, limits.MaxBlockLimit),
                    args.String("new_content", 0, limits.MaxBlockLimit)!) { OldField = "old_content" }, cancellationToken);

            case SearchConversation:
            case "conversation_search":
                args.Allow("query", "limit", "page", "request_heartbeat");
                return await Conversation(work, args.String("query", 1, QueryChars)!, args.Int("limit", 1, MaxConversationResults) ?? 10, cancellationToken);

            default:
                throw new MemoryNotFoundException($"There is no memory tool '{name}'.");
        }
    }

    /// <summary>
    /// Runs one tool in a unit of work of its own and commits it: what <c>POST tools/{name}</c> and the
    /// MCP server do. The result is the committed truth (<see cref="Committed"/>).
    /// </summary>
    public static async Task<JsonNode> InvokeAndCommitAsync(MemoryEngine engine, string userId, string name, JsonElement arguments, CancellationToken cancellationToken = default)
    {
        var work = engine.Begin(userId);
        var result = await InvokeAsync(work, name, arguments, cancellationToken);
        await work.CommitAsync(cancellationToken);
        return Committed(result, work);
    }

    /// <summary>
    /// A tool's result as its unit's commit left it: an archive add the commit skipped, because a
    /// concurrent request stored the same memory first, is reported as the duplicate it is, by the rule
    /// <see cref="MemoryEngine.AddArchiveAsync"/> follows. Call after <see cref="MemoryUnitOfWork.CommitAsync"/>.
    /// </summary>
    public static JsonNode Committed(JsonNode result, MemoryUnitOfWork work)
    {
        if (result is JsonObject archived && archived["stored"] is JsonValue stored && stored.GetValue<bool>()
            && archived["id"] is JsonValue id && work.SkippedAdds.TryGetValue(id.GetValue<string>(), out var first) && first is not null)
            return ArchiveResult(first.Id, created: false);
        return result;
    }

    /// <summary>The tools as Microsoft.Extensions.AI functions bound to one unit of work.</summary>
    public static IList<AITool> AsAITools(MemoryUnitOfWork work) =>
        [.. work.Engine.Tools.Select(d => new BoundTool(d, work))];

    private static async Task<JsonNode> Search(MemoryUnitOfWork work, string query, int top, CancellationToken cancellationToken)
    {
        var found = await work.SearchArchiveAsync(query, top, cancellationToken);
        var result = new JsonObject
        {
            ["results"] = new JsonArray([.. found.Select(s => (JsonNode)new JsonObject
            {
                ["id"] = s.Item.Id,
                ["content"] = s.Item.Content,
                ["type"] = s.Item.Type.ToName(),
                ["createdAt"] = UtcTime.ToText(s.Item.CreatedAt),
                ["score"] = Math.Round(s.Score.Total, 4),
            })]),
        };
        if (work.EmbeddingsFailed) result["mode"] = "lexical: the embedding model is unavailable";
        return result;
    }

    private static async Task<JsonNode> Archive(MemoryUnitOfWork work, string content, MemoryType? type, double? importance, CancellationToken cancellationToken)
    {
        var (item, created) = await work.AddArchiveAsync(new NewMemory(content, type ?? MemoryType.Fact, importance ?? 0.5), cancellationToken);
        var result = ArchiveResult(item.Id, created);
        // Not a mere duplicate: the model is told the fact holds again, as it would otherwise think it stale.
        if (work.Restates(item.Id))
        {
            result["restated"] = true;
            result["note"] = "This memory had been replaced by a later one. Said again, it is current again from now, and what replaced it is kept as history.";
        }
        return result;
    }

    private static JsonObject ArchiveResult(string id, bool created) => new() { ["id"] = id, ["stored"] = created, ["duplicate"] = !created };

    /// <summary>
    /// A model's edit of a block. One that would overflow the block consolidates it, as extraction's
    /// lines do (<see cref="BlockConsolidation"/>): nothing is lost, and the result says what moved where.
    /// </summary>
    private static async Task<JsonNode> Edit(MemoryUnitOfWork work, CoreEdit edit, CancellationToken cancellationToken)
    {
        CoreWrite write;
        try
        {
            write = await BlockConsolidation.WriteAsync(work, edit, cancellationToken);
        }
        catch (BlockOverflowException e)
        {
            var full = (await work.GetCoreAsync(cancellationToken)).Find(edit.Label)!;
            // Only a line too long for the archive gets here. Never a silent no-op: the model is told what it can do instead.
            throw new MemoryValidationException("value", $"{e.Message} Block '{edit.Label}' is full ({Characters.Count(full.Value)}/{full.Limit} characters) " +
                $"and a line longer than {work.Engine.Limits.ArchiveChars} characters cannot move to the archive: " +
                "shorten it, or replace an outdated line (update_core_memory with mode 'replace' and 'old', or core_memory_replace).");
        }
        var block = write.Block;
        var result = new JsonObject { ["field"] = edit.Label, ["value"] = block?.Value ?? "", ["limit"] = block?.Limit };
        if (write.Consolidation is { } c)
            result["consolidated"] = new JsonObject
            {
                ["by"] = c.By,
                ["archived"] = new JsonArray([.. c.Archived.Select(a => (JsonNode)new JsonObject { ["id"] = a.Id, ["content"] = a.Content })]),
                ["note"] = $"Block '{edit.Label}' was full, so it was " + (c.By == Consolidation.Rewrite ? "rewritten to fit" : "made to fit by moving its oldest lines") +
                           $": {c.Archived.Count} line(s) moved to the archive, where search_archive finds them. 'value' is the block now.",
            };
        return result;
    }

    private static async Task<JsonNode> Conversation(MemoryUnitOfWork work, string query, int limit, CancellationToken cancellationToken)
    {
        var found = await work.SearchConversationAsync(query, limit, cancellationToken);
        return new JsonObject
        {
            ["results"] = new JsonArray([.. found.Select(m => (JsonNode)new JsonObject
            {
                ["role"] = m.Role,
                ["content"] = m.Content,
                ["sessionId"] = m.SessionId,
                ["createdAt"] = UtcTime.ToText(m.CreatedAt),
            })]),
        };
    }

    private static MemoryToolDefinition Define(string name, string description, string schema) =>
        new(name, description, JsonDocument.Parse(schema).RootElement.Clone());

    /// <summary>Reads and checks a tool's arguments; every failure names the field.</summary>
    private readonly struct Arguments
    {
        private readonly JsonElement _args;

        public Arguments(JsonElement args)
        {
            if (args.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null)
                args = JsonDocument.Parse("{}").RootElement;
            if (args.ValueKind != JsonValueKind.Object)
                throw new MemoryValidationException("arguments", "Tool arguments must be a JSON object.");
            _args = args;
        }

        public void Allow(params string[] names)
        {
            foreach (var p in _args.EnumerateObject())
            {
                var name = Text(() => p.Name, "arguments");
                if (!names.Contains(name))
                    throw new MemoryValidationException(name, $"Unknown argument '{name}'.");
            }
        }

        public string? String(string name, int min, int max, bool required = true)
        {
            if (!_args.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
                return required ? throw new MemoryValidationException(name, $"'{name}' is required.") : null;
            if (v.ValueKind != JsonValueKind.String)
                throw new MemoryValidationException(name, $"'{name}' must be a string.");
            var s = Text(() => v.GetString()!, name);
            if (s.Trim().Length < min) throw new MemoryValidationException(name, $"'{name}' must not be empty.");
            return Characters.AtMost(s, max, name);
        }

        /// <summary>A model's arguments can hold an escaped lone surrogate, which is no text: name the field.</summary>
        private static string Text(Func<string> read, string name)
        {
            try
            {
                return read();
            }
            catch (InvalidOperationException)
            {
                throw new MemoryValidationException(name, $"'{name}' is not valid Unicode text: it holds a lone surrogate.");
            }
        }

        public string Label(string name)
        {
            var label = String(name, 1, 64)!;
            return CoreMemory.IsValidLabel(label) ? label
                : throw new MemoryValidationException(name, $"'{label}' is not a block label (lowercase letters, digits, '_' and '-').");
        }

        public int? Int(string name, int min, int max)
        {
            if (!_args.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
            if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out var i) || i < min || i > max)
                throw new MemoryValidationException(name, $"'{name}' must be an integer from {min} to {max}.");
            return i;
        }

        public double? Number(string name, double min, double max)
        {
            if (!_args.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
            if (v.ValueKind != JsonValueKind.Number || v.GetDouble() is var d && (d < min || d > max || double.IsNaN(d)))
                throw new MemoryValidationException(name, $"'{name}' must be a number from {min} to {max}.");
            return d;
        }

        public string? Enum(string name, params string[] values)
        {
            var s = String(name, 1, 64, required: false);
            return s is null || values.Contains(s) ? s
                : throw new MemoryValidationException(name, $"'{name}' must be one of {string.Join(", ", values)}.");
        }

        public MemoryType? Type(string name)
        {
            var s = Enum(name, [.. MemoryTypes.Names]);
            return s is null ? null : MemoryTypes.TryParse(s, out var t) ? t : null;
        }
    }

    /// <summary>
    /// A tool bound to a unit of work; a bad call's message goes back to the model, which can correct
    /// itself. Without a unit of work of its own (Letta's names) it uses that of the bound tools the
    /// current tool loop was given, so it still reaches only the turn's user.
    /// </summary>
    private sealed class BoundTool(MemoryToolDefinition definition, MemoryUnitOfWork? work) : AIFunction
    {
        public override string Name => definition.Name;
        public override string Description => definition.Description;
        public override JsonElement JsonSchema => definition.Parameters;

        public MemoryUnitOfWork? Work => work;

        protected override async ValueTask<object?> InvokeCoreAsync(AIFunctionArguments arguments, CancellationToken cancellationToken)
        {
            var json = JsonSerializer.SerializeToElement(arguments.ToDictionary(), AIJsonUtilities.DefaultOptions);
            var bound = work ?? FunctionInvokingChatClient.CurrentContext?.Options?.Tools?.OfType<BoundTool>().FirstOrDefault(t => t.Work is not null)?.Work;
            if (bound is null) return new JsonObject { ["error"] = $"The tool '{Name}' is not available here." };
            try
            {
                return await MemoryTools.InvokeAsync(bound, Name, json, cancellationToken);
            }
            catch (MemoryValidationException e)
            {
                return new JsonObject { ["error"] = e.Message };
            }
        }
    }
}
