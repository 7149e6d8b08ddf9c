using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace ServerlessMemory.Core;

/// <summary>
/// A Letta Agent File (letta-ai/agent-file): Letta's <c>AgentFileSchema</c> (<c>agents</c>, <c>blocks</c>,
/// <c>tools</c>, ...) or its first schema (one agent with <c>core_memory</c> and <c>messages</c>). Memory
/// blocks become core blocks, the conversation one session, archival passages (where a file carries
/// them) archive memories. The agent's system prompt, tools, model settings and files stay behind.
/// </summary>
internal static partial class LettaAgentFile
{
    public static void Read(IReadOnlyList<JsonDocument> values, string? agentName, ForeignDocument document)
    {
        if (values.Count != 1) throw new MemoryValidationException("file", "A Letta agent file is one JSON object, not several.");
        var root = values[0].RootElement;
        using var inner = root.ValueKind == JsonValueKind.String ? TryParse(root.GetString()) : null;
        if (inner is not null) root = inner.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw new MemoryValidationException("file", "A Letta agent file is a JSON object.");

        JsonElement agent;
        List<JsonElement> blocks;
        var passages = Array(root, "passages");
        if (root.TryGetProperty("agents", out var agents) && agents.ValueKind == JsonValueKind.Array)
        {
            agent = Choose([.. agents.EnumerateArray().Where(a => a.ValueKind == JsonValueKind.Object)], agentName, document);
            var byId = Array(root, "blocks").Where(b => ForeignMemory.Text(b, "id") is not null)
                .GroupBy(b => ForeignMemory.Text(b, "id")!, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
            blocks = [.. Array(agent, "memory_blocks"), .. Array(agent, "block_ids").Select(id => id.ValueKind == JsonValueKind.String && byId.TryGetValue(id.GetString()!, out var b) ? b : default)
                .Where(b => b.ValueKind == JsonValueKind.Object)];
            NoteLeftBehind(root, agent, document);
        }
        else if (root.TryGetProperty("core_memory", out _) || root.TryGetProperty("agent_type", out _))
        {
            agent = root;
            blocks = [.. Array(root, "core_memory")];
            passages = [];
            NoteLeftBehind(root, agent, document);
        }
        else throw new MemoryValidationException("file",
            "This is not a Letta agent file: it has neither 'agents' (Letta's AgentFileSchema) nor 'core_memory' (its first schema).");

        var fileTime = ForeignMemory.Time(root, "created_at") ?? ForeignMemory.Time(agent, "created_at");
        ReadBlocks(blocks, fileTime, document);
        ReadPassages([.. Array(agent, "passages"), .. passages], document);
        ReadMessages(agent, document);
    }

    private static JsonDocument? TryParse(string? text)
    {
        try { return text is null ? null : JsonDocument.Parse(text); }
        catch (JsonException) { return null; }
    }

    private static IEnumerable<JsonElement> Array(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var array) && array.ValueKind == JsonValueKind.Array
            ? array.EnumerateArray() : [];

    /// <summary>The agent asked for by name or id; else the only one; else the first that is not a sleep-time helper.</summary>
    private static JsonElement Choose(List<JsonElement> agents, string? name, ForeignDocument document)
    {
        if (agents.Count == 0) throw new MemoryValidationException("file", "The agent file holds no agent.");
        if (name is not null)
            return agents.FirstOrDefault(a => ForeignMemory.Text(a, "name") == name || ForeignMemory.Text(a, "id") == name) is { ValueKind: JsonValueKind.Object } named
                ? named
                : throw new MemoryValidationException("agent", $"The agent file holds no agent named '{name}'; it holds {Names(agents)}.");
        if (agents.Count == 1) return agents[0];
        var chosen = agents.FirstOrDefault(a => ForeignMemory.Text(a, "agent_type") is not { } type || !type.Contains("sleeptime", StringComparison.Ordinal));
        if (chosen.ValueKind != JsonValueKind.Object) chosen = agents[0];
        document.Note($"The file holds {agents.Count} agents ({Names(agents)}); '{ForeignMemory.Text(chosen, "name")}' was brought in (choose another by name).");
        return chosen;
    }

    private static string Names(List<JsonElement> agents) => string.Join(", ", agents.Select(a => $"'{ForeignMemory.Text(a, "name") ?? ForeignMemory.Text(a, "id")}'"));

    private static void NoteLeftBehind(JsonElement root, JsonElement agent, ForeignDocument document)
    {
        var left = new List<string>();
        if (ForeignMemory.Text(agent, "system") is { Length: > 0 }) left.Add("the system prompt");
        if (Array(root, "tools").Count() is > 0 and var tools) left.Add($"{tools} tools");
        else if (Array(agent, "tool_ids").Count() is > 0 and var toolIds) left.Add($"{toolIds} tools");
        if (Array(agent, "tool_rules").Any()) left.Add("the tool rules");
        if (agent.TryGetProperty("llm_config", out var llm) && ForeignMemory.Text(llm, "model") is { } model) left.Add($"the model settings ({model})");
        if (agent.TryGetProperty("embedding_config", out var embedding) && ForeignMemory.Text(embedding, "embedding_model") is { } embedder) left.Add($"the embedding settings ({embedder})");
        if (Array(root, "files").Any() || Array(root, "sources").Any()) left.Add("files and folders");
        if (Array(root, "mcp_servers").Any()) left.Add("MCP servers");
        if (Array(root, "groups").Any()) left.Add("agent groups");
        if (agent.TryGetProperty("tool_exec_environment_variables", out var variables) && variables.ValueKind == JsonValueKind.Object && variables.EnumerateObject().Any())
            left.Add("tool environment variables");
        if (left.Count > 0) document.Note("Not carried over (this service has no place for them): " + string.Join(", ", left) + ".");
    }

    private static void ReadBlocks(List<JsonElement> blocks, DateTimeOffset? fileTime, ForeignDocument document)
    {
        var limits = document.Limits;
        var labels = new HashSet<string>(StringComparer.Ordinal);
        var renamed = new List<string>();
        var defaults = CoreMemory.CreateDefault(limits.BlockLimit).Blocks;
        foreach (var block in blocks)
        {
            var original = ForeignMemory.Text(block, "label") ?? "block";
            var label = Unique(Label(original), labels);
            if (label != original) renamed.Add($"'{original}' → '{label}'");
            var value = TrimBlankLines(ForeignMemory.Text(block, "value") ?? "");
            var time = ForeignMemory.Time(block, "updated_at") ?? ForeignMemory.Time(block, "created_at") ?? fileTime;
            if (document.Blocks.Count >= limits.MaxBlocks)
            {
                // No room for another block: its lines are kept in the archive rather than lost.
                var lines = Archive(value.Split('\n'), label, time, document);
                document.Note($"Block '{original}' is past this service's {limits.MaxBlocks} blocks: its {lines} lines went to the archive.");
                continue;
            }
            var kept = new StringBuilder();
            var moved = new List<string>();
            foreach (var line in value.Split('\n'))
            {
                var extra = (kept.Length > 0 ? 1 : 0) + line.Length;
                if (moved.Count == 0 && kept.Length + extra <= limits.MaxBlockLimit) kept.Append(kept.Length > 0 ? "\n" : "").Append(line);
                else moved.Add(line);
            }
            if (moved.Count > 0)
            {
                var count = Archive(moved, label, time, document);
                document.Note($"Block '{original}' holds {value.Length:N0} characters, past this service's {limits.MaxBlockLimit:N0}: its last {count} lines went to the archive.");
            }
            var limit = block.TryGetProperty("limit", out var l) && l.TryGetInt32(out var lettaLimit) ? lettaLimit : limits.BlockLimit;
            document.AddBlock(new MemoryBlock(label, kept.ToString(), Math.Clamp(Math.Max(limit, kept.Length), 1, limits.MaxBlockLimit),
                ForeignMemory.Text(block, "description") ?? "",
                block.TryGetProperty("read_only", out var readOnly) && readOnly.ValueKind == JsonValueKind.True));
        }
        if (renamed.Count > 0) document.Note("Block labels renamed to this service's form (a-z, 0-9, _ and -, starting with a letter): " + string.Join(", ", renamed) + ".");
        // The service's own blocks that the agent lacks, so the extraction still has its places to write.
        foreach (var block in defaults.Where(d => !labels.Contains(d.Label)))
        {
            if (document.Blocks.Count >= limits.MaxBlocks) break;
            labels.Add(block.Label);
            document.AddBlock(block);
        }
        document.HasCore = true;
    }

    private static int Archive(IEnumerable<string> lines, string label, DateTimeOffset? time, ForeignDocument document)
    {
        var metadata = document.Metadata([new("source", "letta"), new("block", label)]);
        return lines.Where(line => line.Trim().Length > 0).Sum(line => document.AddMemory(line.Trim(), BlockConsolidation.TypeOf(label), 0.5, time, metadata));
    }

    /// <summary>A Letta label in this service's form: lower case, a-z 0-9 _ -, starting with a letter, at most 64 characters.</summary>
    internal static string Label(string label)
    {
        var normal = NotLabelCharacters().Replace(label.Trim().ToLowerInvariant(), "_").Trim('_', '-');
        normal = LeadingNonLetters().Replace(normal, "");
        if (normal.Length == 0) normal = "block";
        return normal.Length > 64 ? normal[..64].TrimEnd('_', '-') : normal;
    }

    private static string Unique(string label, HashSet<string> labels)
    {
        var candidate = label;
        for (var n = 2; !labels.Add(candidate); n++)
        {
            var suffix = "_" + n.ToString(CultureInfo.InvariantCulture);
            candidate = (label.Length + suffix.Length > 64 ? label[..(64 - suffix.Length)] : label) + suffix;
        }
        return candidate;
    }

    private static string TrimBlankLines(string value) => value.Replace("\r\n", "\n", StringComparison.Ordinal).Trim('\n', ' ', '\t', '\r');

    private static void ReadPassages(List<JsonElement> passages, ForeignDocument document)
    {
        var added = 0;
        foreach (var passage in passages)
        {
            var text = ForeignMemory.Text(passage, "text") ?? ForeignMemory.Text(passage, "content");
            if (string.IsNullOrWhiteSpace(text)) continue;
            var entries = new List<KeyValuePair<string, string?>> { new("source", "letta"), new("letta_passage_id", ForeignMemory.Text(passage, "id")) };
            var tags = Array(passage, "tags").Where(t => t.ValueKind == JsonValueKind.String).Select(t => t.GetString()).ToList();
            if (tags.Count > 0) entries.Add(new("tags", string.Join(", ", tags)));
            if (passage.TryGetProperty("metadata", out var metadata) && metadata.ValueKind == JsonValueKind.Object)
                entries.AddRange(metadata.EnumerateObject().Select(p => new KeyValuePair<string, string?>(p.Name, Mem0Export.Flat(p.Value))));
            added += document.AddMemory(text, MemoryType.Fact, 0.5, ForeignMemory.Time(passage, "created_at"), document.Metadata(entries));
        }
        if (passages.Count > 0) document.Note($"{passages.Count} archival passages became {added} archive memories.");
    }

    private static void ReadMessages(JsonElement agent, ForeignDocument document)
    {
        var messages = Array(agent, "messages").Where(m => m.ValueKind == JsonValueKind.Object).ToList();
        if (messages.Count == 0) return;
        var name = ForeignMemory.Text(agent, "name") ?? "agent";
        var sessionId = "letta-" + SessionCharacters().Replace(name, "-").Trim('-');
        if (sessionId.Length > 128) sessionId = sessionId[..128];
        // MemGPT-style agents speak only through send_message; what their assistant messages say as
        // text is inner monologue, not a reply. Agents of the newer loop reply in text.
        var speaksThroughTool = (ForeignMemory.Text(agent, "agent_type") ?? "").StartsWith("memgpt", StringComparison.Ordinal)
                                || messages.Any(m => SentMessages(m).Any());
        var ordered = messages.Select((m, i) => (Message: m, Index: i, At: ForeignMemory.Time(m, "created_at") ?? document.Now))
            .OrderBy(x => x.At).ThenBy(x => x.Index).ToList();
        string? turnId = null;
        int kept = 0, automated = 0, internalOnes = 0;
        foreach (var (message, index, at) in ordered)
        {
            var sourceId = ForeignMemory.Text(message, "id") ?? index.ToString(CultureInfo.InvariantCulture);
            switch (ForeignMemory.Text(message, "role"))
            {
                case "user":
                    if (UserText(Text(message)) is not { Length: > 0 } said) { automated++; continue; }
                    turnId = ForeignMemory.StableId("letta-", sessionId, "turn", sourceId);
                    document.AddMessage(sessionId, sourceId, turnId, "user", said, at);
                    kept++;
                    break;
                case "assistant":
                    var replies = speaksThroughTool ? SentMessages(message).ToList() : [Text(message)];
                    turnId ??= ForeignMemory.StableId("letta-", sessionId, "turn", sourceId);
                    var part = 0;
                    foreach (var reply in replies.Where(r => r.Trim().Length > 0))
                    {
                        document.AddMessage(sessionId, sourceId + "/" + (part++).ToString(CultureInfo.InvariantCulture), turnId, "assistant", reply, at);
                        kept++;
                    }
                    if (part == 0) internalOnes++;
                    break;
                default:
                    internalOnes++;
                    break;
            }
        }
        document.Note($"{messages.Count} messages: {kept} said by the user or the agent became session '{sessionId}'; " +
                      $"{internalOnes} system, tool and inner-monologue messages and {automated} automated user messages (heartbeats, alerts) were left out.");
    }

    /// <summary>The text parts of a message's content (a string, or Letta's list of parts; reasoning parts are not text).</summary>
    private static string Text(JsonElement message)
    {
        if (!message.TryGetProperty("content", out var content)) return "";
        if (content.ValueKind == JsonValueKind.String) return content.GetString() ?? "";
        if (content.ValueKind != JsonValueKind.Array) return "";
        return string.Join("\n", content.EnumerateArray()
            .Where(p => ForeignMemory.Text(p, "type") is null or "text")
            .Select(p => ForeignMemory.Text(p, "text")).OfType<string>());
    }

    /// <summary>
    /// What the user said: Letta wraps a user message as <c>{"type":"user_message","message":...}</c>
    /// and sends its own heartbeats, system alerts and logins as user messages too (null: not said by the user).
    /// </summary>
    private static string? UserText(string text)
    {
        var trimmed = text.Trim();
        if (!trimmed.StartsWith('{')) return trimmed;
        using var wrapped = TryParse(trimmed);
        if (wrapped is null || wrapped.RootElement.ValueKind != JsonValueKind.Object || ForeignMemory.Text(wrapped.RootElement, "type") is not { } type) return trimmed;
        return type == "user_message" ? ForeignMemory.Text(wrapped.RootElement, "message")?.Trim() : null;
    }

    /// <summary>The messages a MemGPT-style agent sent the user: its <c>send_message</c> calls' <c>message</c> argument.</summary>
    private static IEnumerable<string> SentMessages(JsonElement message)
    {
        foreach (var call in Array(message, "tool_calls"))
        {
            if (!call.TryGetProperty("function", out var function) || ForeignMemory.Text(function, "name") != "send_message") continue;
            using var arguments = TryParse(ForeignMemory.Text(function, "arguments"));
            if (arguments is not null && ForeignMemory.Text(arguments.RootElement, "message") is { } said) yield return said;
        }
    }

    [GeneratedRegex("[^a-z0-9_-]+")]
    private static partial Regex NotLabelCharacters();

    [GeneratedRegex("^[^a-z]+")]
    private static partial Regex LeadingNonLetters();

    [GeneratedRegex(@"[^A-Za-z0-9\-_.@:]+")]
    private static partial Regex SessionCharacters();
}
