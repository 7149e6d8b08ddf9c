using System.Text.Json.Nodes;

/// <summary>
/// MemDaily (nuster1128/MemSim): a user's own Chinese messages to a personal assistant ("我同事的名字叫张雅静。"),
/// each a memory, and a question per trajectory whose evidence is its labelled target messages. Trajectories
/// are short (about eight messages), so consecutive trajectories of one file are one user's history until it
/// holds 300 messages: the others' messages are what a search must not return. Category: the question type
/// (simple, conditional, comparative, aggregative, post_processing, noisy).
/// </summary>
internal static class MemDailySet
{
    private const int MessagesPerUser = 300;

    /// <summary>The folder data_generation/final_dataset/messages_and_QAs (files 01_simple_events.json ... 06_noisy_roles.json).</summary>
    public static string? Find(string data) =>
        new[] { "memdaily", "messages_and_QAs" }.Select(p => Path.Combine(data, p)).FirstOrDefault(p => Directory.Exists(p) && Files(p).Any());

    private static IEnumerable<string> Files(string folder) =>
        Directory.GetFiles(folder, "0*_*_*.json").Order(StringComparer.Ordinal);

    public static LabelledSet Load(string path)
    {
        var memories = new Dictionary<string, List<(string, string)>>(StringComparer.Ordinal);
        var questions = new List<LabelledQuestion>();
        foreach (var file in Files(path))
        {
            var name = Path.GetFileNameWithoutExtension(file);           // 05_post_processing_roles
            var type = name[3..name.LastIndexOf('_')];                     // post_processing
            var block = 0;
            List<(string, string)>? list = null;
            foreach (var trajectory in JsonNode.Parse(File.ReadAllText(file))!.AsArray())
            {
                if (list is null || list.Count >= MessagesPerUser) memories[$"memdaily-{name}-{block++}"] = list = [];
                var user = $"memdaily-{name}-{block - 1}";
                var tid = (int)trajectory!["tid"]!;
                var messages = trajectory["message_list"]!.AsArray();
                for (var m = 0; m < messages.Count; m++) list.Add(($"{name}:{tid}:{m}", (string)messages[m]!["message"]!));
                // As MemSim's own post-processing: the first question of a trajectory, unless generation failed.
                var qa = trajectory["question_list"]!.AsArray().FirstOrDefault();
                if (qa is null || (string?)qa["question"] is null or "[ERRORQ]" || (string?)qa["answer"] == "[ERRORA]") continue;
                var evidence = qa["target_step_id"]!.AsArray().Select(i => (int)i!).Where(i => i >= 0 && i < messages.Count)
                    .Select(i => $"{name}:{tid}:{i}").ToHashSet(StringComparer.Ordinal);
                questions.Add(new($"{name}:{tid}", user, (string)qa["question"]!, evidence, type));
            }
        }
        return new("MemDaily", Language.Chinese, memories, questions);
    }
}
