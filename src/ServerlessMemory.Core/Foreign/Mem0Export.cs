using System.Globalization;
using System.Text.Json;

namespace ServerlessMemory.Core;

/// <summary>
/// mem0's memories as its APIs and OpenMemory hand them out: <c>get_all</c>'s <c>{"results": [...]}</c>
/// (paged or not), a bare list of memories, OpenMemory's backup (<c>memories.json</c> with
/// <c>memories</c> and <c>categories</c>, or <c>memories.jsonl</c>, one memory a line). Each memory becomes
/// an archive memory dated by its <c>created_at</c>; mem0 has no core memory and no conversation.
/// </summary>
internal static class Mem0Export
{
    public static void Read(IReadOnlyList<JsonDocument> values, ForeignDocument document)
    {
        var categories = new Dictionary<string, string>(StringComparer.Ordinal);
        List<JsonElement> memories;
        if (values.Count > 1) memories = [.. values.Select(v => v.RootElement)];
        else
        {
            var root = values[0].RootElement;
            if (root.ValueKind == JsonValueKind.Array) memories = [.. root.EnumerateArray()];
            else if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("results", out var results) && results.ValueKind == JsonValueKind.Array)
                memories = [.. results.EnumerateArray()];
            else if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("memories", out var list) && list.ValueKind == JsonValueKind.Array)
            {
                memories = [.. list.EnumerateArray()];
                if (root.TryGetProperty("categories", out var known) && known.ValueKind == JsonValueKind.Array)
                    foreach (var category in known.EnumerateArray())
                        if (ForeignMemory.Text(category, "id") is { } id && ForeignMemory.Text(category, "name") is { } name) categories[id] = name;
            }
            else if (root.ValueKind == JsonValueKind.Object && (root.TryGetProperty("memory", out _) || root.TryGetProperty("content", out _))) memories = [root];
            else throw new MemoryValidationException("file",
                "This is not a mem0 export: expected get_all's {\"results\": [...]}, a list of memories, or OpenMemory's backup ({\"memories\": [...]} or one memory a line).");
        }

        int skippedDeleted = 0, skippedExpired = 0, empty = 0, added = 0;
        var users = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var memory in memories)
        {
            if (memory.ValueKind != JsonValueKind.Object) throw new MemoryValidationException("file", "Each mem0 memory is a JSON object.");
            var text = ForeignMemory.Text(memory, "memory") ?? ForeignMemory.Text(memory, "content") ?? ForeignMemory.Text(memory, "data");
            if (string.IsNullOrWhiteSpace(text)) { empty++; continue; }
            var state = ForeignMemory.Text(memory, "state");
            if (state == "deleted" || ForeignMemory.Time(memory, "deleted_at") is not null) { skippedDeleted++; continue; }
            if (ForeignMemory.Time(memory, "expiration_date") is { } expires && expires <= document.Now) { skippedExpired++; continue; }
            if (ForeignMemory.Text(memory, "user_id") is { } user) users.Add(user);

            var names = Names(memory, categories);
            var metadata = memory.TryGetProperty("metadata", out var m) && m.ValueKind == JsonValueKind.Object ? m : default;
            var entries = new List<KeyValuePair<string, string?>>
            {
                new("source", "mem0"),
                new("mem0_id", ForeignMemory.Text(memory, "id")),
                new("categories", names.Count > 0 ? string.Join(", ", names) : null),
            };
            foreach (var key in (string[])["agent_id", "run_id", "app_id", "actor_id", "role", "app", "updated_at", "expiration_date"])
                if (memory.TryGetProperty(key, out var value)) entries.Add(new("mem0_" + key, Flat(value)));
            if (state is not null and not "active") entries.Add(new("mem0_state", state));
            if (metadata.ValueKind == JsonValueKind.Object)
                entries.AddRange(metadata.EnumerateObject().Where(p => p.Name is not "type" and not "importance").Select(p => new KeyValuePair<string, string?>(p.Name, Flat(p.Value))));

            added += document.AddMemory(text, TypeOf(metadata, names), ImportanceOf(metadata), ForeignMemory.Time(memory, "created_at"), document.Metadata(entries));
        }
        document.Note($"{memories.Count} mem0 memories became {added} archive memories.");
        if (skippedDeleted > 0) document.Note($"{skippedDeleted} deleted memories were left out.");
        if (skippedExpired > 0) document.Note($"{skippedExpired} memories past their expiration_date were left out.");
        if (empty > 0) document.Note($"{empty} records without text were left out.");
        if (users.Count > 1) document.Note($"The file holds memories of {users.Count} mem0 users ({string.Join(", ", users.Take(5))}{(users.Count > 5 ? ", ..." : "")}): all went to this one user.");
    }

    private static List<string> Names(JsonElement memory, Dictionary<string, string> categories)
    {
        var names = new List<string>();
        if (memory.TryGetProperty("categories", out var listed) && listed.ValueKind == JsonValueKind.Array)
            names.AddRange(listed.EnumerateArray().Where(c => c.ValueKind == JsonValueKind.String).Select(c => c.GetString()!));
        if (memory.TryGetProperty("category_ids", out var ids) && ids.ValueKind == JsonValueKind.Array)
            names.AddRange(ids.EnumerateArray().Where(c => c.ValueKind == JsonValueKind.String).Select(c => categories.GetValueOrDefault(c.GetString()!)).OfType<string>());
        return [.. names.Distinct(StringComparer.Ordinal)];
    }

    /// <summary>
    /// mem0 has no memory types: a type named in the memory's metadata wins; mem0's own categories
    /// <c>personal_details</c> and <c>user_preferences</c> read as identity and preference; the rest are facts.
    /// </summary>
    private static MemoryType TypeOf(JsonElement metadata, List<string> categories)
    {
        if (ForeignMemory.Text(metadata, "type") is { } named && MemoryTypes.TryParse(named, out var type)) return type;
        if (categories.Contains("personal_details")) return MemoryType.Identity;
        if (categories.Contains("user_preferences")) return MemoryType.Preference;
        return MemoryType.Fact;
    }

    private static double ImportanceOf(JsonElement metadata) =>
        metadata.ValueKind == JsonValueKind.Object && metadata.TryGetProperty("importance", out var value) && value.TryGetDouble(out var importance)
        && importance is >= 0 and <= 1 ? importance : 0.5;

    /// <summary>A JSON value as flat metadata text: strings as they are, anything else as its JSON.</summary>
    internal static string? Flat(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString(),
        JsonValueKind.Null or JsonValueKind.Undefined => null,
        JsonValueKind.Number => value.GetRawText(),
        JsonValueKind.True or JsonValueKind.False => value.GetBoolean().ToString(CultureInfo.InvariantCulture).ToLowerInvariant(),
        _ => value.GetRawText(),
    };
}
