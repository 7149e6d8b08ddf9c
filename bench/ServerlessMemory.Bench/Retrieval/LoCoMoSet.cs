using System.Text.Json.Nodes;

/// <summary>
/// LoCoMo (snap-research/locomo): ten long two-person conversations, each turn "speaker: text" a memory of
/// its conversation's user; questions with labelled evidence turns ("D3:12"). Category 5 (unanswerable)
/// is left out; the others keep LoCoMo's numbers.
/// </summary>
internal static class LoCoMoSet
{
    /// <summary>locomo10.json, or the folder of one json per conversation that data/locomo10.zip unpacks to.</summary>
    public static string? Find(string data) =>
        new[] { "locomo10.json", "locomo10" }.Select(p => Path.Combine(data, p)).FirstOrDefault(p => File.Exists(p) || Directory.Exists(p));

    public static LabelledSet Load(string path)
    {
        // Named by LoCoMo's sample id (conv-26; the folder's 26.json), so a question's id, and with it its
        // half, is the same whichever form of the data is read.
        var conversations = new List<(string Name, JsonObject Conversation)>();
        if (Directory.Exists(path))
            foreach (var file in Directory.GetFiles(path, "*.json").Order(StringComparer.Ordinal))
                conversations.Add(("conv-" + Path.GetFileNameWithoutExtension(file), JsonNode.Parse(File.ReadAllText(file))!.AsObject()));
        else
            foreach (var sample in JsonNode.Parse(File.ReadAllText(path))!.AsArray())
            {
                var conversation = sample!["conversation"]!.DeepClone().AsObject();
                conversation["qa"] = sample["qa"]!.DeepClone();
                conversations.Add(((string)sample["sample_id"]!, conversation));
            }

        var memories = new Dictionary<string, List<(string, string)>>(StringComparer.Ordinal);
        var questions = new List<LabelledQuestion>();
        foreach (var (name, conversation) in conversations)
        {
            var user = "locomo-" + name;
            var turns = new List<(string, string)>();
            foreach (var (key, value) in conversation)
                if (key.StartsWith("session_", StringComparison.Ordinal) && value is JsonArray session)
                    foreach (var turn in session)
                        turns.Add(((string)turn!["dia_id"]!, $"{(string)turn["speaker"]!}: {(string)turn["text"]!}"));
            memories[user] = turns;
            var known = turns.Select(t => t.Item1).ToHashSet(StringComparer.Ordinal);
            var qas = conversation["qa"]!.AsArray();
            for (var i = 0; i < qas.Count; i++)
            {
                var qa = qas[i]!;
                var category = (int)qa["category"]!;
                if (category == 5 || qa["question"] is null) continue;
                var evidence = qa["evidence"]!.AsArray().SelectMany(e => ((string)e!).Split([';', ' ', ','], StringSplitOptions.RemoveEmptyEntries))
                    .Where(known.Contains).ToHashSet(StringComparer.Ordinal);
                if (evidence.Count > 0) questions.Add(new($"{user}/{i}", user, (string)qa["question"]!, evidence, $"category {category}"));
            }
        }
        return new("LoCoMo", Language.English, memories, questions);
    }
}
