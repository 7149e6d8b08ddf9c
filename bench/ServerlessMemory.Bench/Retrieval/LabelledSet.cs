using System.Security.Cryptography;
using System.Text;

/// <summary>A question whose answer lies in the labelled memories (its evidence); <see cref="Category"/> is the set's own label, or "all".</summary>
internal sealed record LabelledQuestion(string Id, string User, string Text, IReadOnlySet<string> Evidence, string Category)
{
    /// <summary>
    /// Which half the question falls in: a hash of its id, so the split is the same on every run and
    /// machine and does not follow the set's order. Tune on <see cref="Half.Tuning"/>, report <see cref="Half.Test"/>.
    /// </summary>
    public Half Half => (SHA256.HashData(Encoding.UTF8.GetBytes(Id))[0] & 1) == 0 ? Half.Tuning : Half.Test;

    /// <summary>A stable order unrelated to the set's own, for taking a sample of questions spread over users.</summary>
    public ulong Order => BitConverter.ToUInt64(SHA256.HashData(Encoding.UTF8.GetBytes("order/" + Id)), 0);
}

internal enum Half { Tuning, Test }

internal enum Language { English, Chinese }

/// <summary>Memories per user (key, content) and the questions asked of them.</summary>
internal sealed record LabelledSet(string Name, Language Language, Dictionary<string, List<(string Key, string Content)>> Memories, List<LabelledQuestion> Questions)
{
    public int MemoryCount => Memories.Sum(m => m.Value.Count);

    /// <summary>
    /// The memories as the product stores them: one memory per distinct content of a user (the product
    /// keys a memory by its content's hash), blank ones dropped; evidence is moved to the kept copy, and
    /// questions left without evidence are dropped. Every search in the run sees these same memories.
    /// </summary>
    public LabelledSet AsStored()
    {
        var memories = new Dictionary<string, List<(string, string)>>(StringComparer.Ordinal);
        var alias = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (user, list) in Memories)
        {
            var kept = new Dictionary<string, string>(StringComparer.Ordinal);
            var stored = new List<(string, string)>();
            foreach (var (key, content) in list)
            {
                var text = content.Trim();
                if (text.Length == 0) continue;
                if (kept.TryGetValue(text, out var first)) { alias[user + "/" + key] = first; continue; }
                kept[text] = key;
                alias[user + "/" + key] = key;
                stored.Add((key, text));
            }
            memories[user] = stored;
        }
        var questions = new List<LabelledQuestion>();
        foreach (var q in Questions)
        {
            var evidence = q.Evidence.Select(e => alias.GetValueOrDefault(q.User + "/" + e)).OfType<string>().ToHashSet(StringComparer.Ordinal);
            if (evidence.Count > 0 && q.Text.Trim().Length > 0) questions.Add(q with { Evidence = evidence });
        }
        return this with { Memories = memories, Questions = questions };
    }

    /// <summary>At most <paramref name="count"/> questions, taken in a hashed order so the sample spreads over users and halves.</summary>
    public LabelledSet Sample(int? count) =>
        count is { } n && n < Questions.Count ? this with { Questions = [.. Questions.OrderBy(q => q.Order).Take(n)] } : this;
}
