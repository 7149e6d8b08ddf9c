using System.Text.Json.Nodes;

/// <summary>
/// FriendsQA (emorynlp/FriendsQA): scenes of the TV series Friends, questions answered by spans of its
/// utterances. Each episode's scenes are one user's history (every utterance "Speaker: text" a memory, a
/// few hundred an episode); a question's evidence is every utterance holding one of its labelled answers
/// (annotators' answers sometimes sit in different utterances). Category: the question's wh-word, the
/// six forms the set was built around.
/// </summary>
internal static class FriendsQaSet
{
    private static readonly string[] Forms = ["what", "who", "when", "where", "why", "how"];

    /// <summary>A folder holding friendsqa_dev.json and/or friendsqa_tst.json (the training file is not used).</summary>
    public static string? Find(string data) =>
        Path.Combine(data, "friendsqa") is var folder && Files(folder).Any() ? folder : Files(data).Any() ? data : null;

    private static IEnumerable<string> Files(string folder) =>
        new[] { "friendsqa_dev.json", "friendsqa_tst.json" }.Select(f => Path.Combine(folder, f)).Where(File.Exists);

    public static LabelledSet Load(string path)
    {
        var memories = new Dictionary<string, List<(string, string)>>(StringComparer.Ordinal);
        var questions = new List<LabelledQuestion>();
        foreach (var file in Directory.Exists(path) ? Files(path) : [path])
            foreach (var dialogue in JsonNode.Parse(File.ReadAllText(file))!["data"]!.AsArray())
            {
                var scene = (string)dialogue!["title"]!;          // s01_e23_c06: season, episode, scene
                var user = "friends-" + scene[..scene.LastIndexOf('_')];
                if (!memories.TryGetValue(user, out var list)) memories[user] = list = [];
                foreach (var paragraph in dialogue["paragraphs"]!.AsArray())
                {
                    foreach (var u in paragraph!["utterances:"]!.AsArray())
                    {
                        // Scene descriptions ("[ Scene : Central Perk ... ]") have the speaker #NOTE#: stored without it; #ALL# is everyone.
                        var speakers = string.Join(", ", u!["speakers"]!.AsArray().Select(s => (string)s!).Where(s => s != "#NOTE#").Select(s => s == "#ALL#" ? "All" : s));
                        list.Add(($"{scene}:{(int)u["uid"]!}", speakers.Length > 0 ? $"{speakers}: {(string)u["utterance"]!}" : (string)u["utterance"]!));
                    }
                    foreach (var qa in paragraph["qas"]!.AsArray())
                    {
                        var text = (string)qa!["question"]!;
                        var evidence = qa["answers"]!.AsArray().Select(a => $"{scene}:{(int)a!["utterance_id"]!}").ToHashSet(StringComparer.Ordinal);
                        var form = Forms.FirstOrDefault(f => text.Split(' ', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault()?.Equals(f, StringComparison.OrdinalIgnoreCase) == true) ?? "other";
                        questions.Add(new((string)qa["id"]!, user, text, evidence, form));
                    }
                }
            }
        return new("FriendsQA", Language.English, memories, questions);
    }
}
