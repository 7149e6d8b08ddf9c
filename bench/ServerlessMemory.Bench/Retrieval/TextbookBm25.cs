// The hand-written Okapi BM25 the bench used before Lucene's became the reference; kept only to compare
// Chinese tokenisers under one scoring (`retrieval --segmenters`, ChineseTokenisers.cs).
/// <summary>
/// Okapi BM25 as the textbook has it (k1 1.2, b 0.75, idf ln(1 + (N - df + 0.5)/(df + 0.5))), over every
/// memory of the user: lower-cased words for English, no stemming, no stop words; for Chinese,
/// overlapping character bigrams (Lucene's CJK analyzer), single characters where a run has one.
/// </summary>
internal sealed class TextbookBm25
{
    private readonly Dictionary<string, (List<(string Key, Dictionary<string, int> Tf, int Length)> Docs, Dictionary<string, int> Df, double AvgDl)> _users = [];
    private readonly Func<string, List<string>> _tokens;

    public TextbookBm25(LabelledSet set, bool chinese)
        : this(set, text => Words(text, chinese))
    {
    }

    /// <summary>The same scoring over other terms (the bench's Chinese word segmenters).</summary>
    public TextbookBm25(LabelledSet set, Func<string, List<string>> tokens)
    {
        _tokens = tokens;
        foreach (var (user, memories) in set.Memories)
        {
            var docs = memories.Select(m =>
            {
                var tokens = _tokens(m.Content);
                return (m.Key, tokens.GroupBy(t => t, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal), tokens.Count);
            }).ToList();
            var df = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var d in docs) foreach (var t in d.Item2.Keys) df[t] = df.GetValueOrDefault(t) + 1;
            _users[user] = (docs, df, docs.Average(d => (double)d.Count));
        }
    }

    public IReadOnlyList<string> Rank(LabelledQuestion q)
    {
        var (docs, df, avgdl) = _users[q.User];
        var terms = _tokens(q.Text).Distinct(StringComparer.Ordinal).ToList();
        var n = docs.Count;
        return [.. docs.Select(d =>
            {
                var score = 0.0;
                foreach (var t in terms)
                {
                    if (!d.Tf.TryGetValue(t, out var tf)) continue;
                    var idf = Math.Log(1 + (n - df[t] + 0.5) / (df[t] + 0.5));
                    score += idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * d.Length / avgdl));
                }
                return (d.Key, score);
            })
            .Where(s => s.score > 0).OrderByDescending(s => s.score).Take(10).Select(s => s.Key)];
    }

    /// <summary>Lower-cased words; with <paramref name="chinese"/>, CJK runs as overlapping bigrams.</summary>
    public static List<string> Words(string text, bool chinese)
    {
        var tokens = new List<string>();
        var word = new System.Text.StringBuilder();
        var run = new System.Text.StringBuilder();
        void Flush()
        {
            if (word.Length > 0) tokens.Add(word.ToString().ToLowerInvariant());
            word.Clear();
            if (run.Length == 1) tokens.Add(run.ToString());
            for (var i = 0; i + 1 < run.Length; i++) tokens.Add(run.ToString(i, 2));
            run.Clear();
        }
        foreach (var c in text)
        {
            if (chinese && c is >= '\u4e00' and <= '\u9fff')
            {
                if (word.Length > 0) { tokens.Add(word.ToString().ToLowerInvariant()); word.Clear(); }
                run.Append(c);
            }
            else if (char.IsLetterOrDigit(c))
            {
                if (run.Length > 0) { var w = word.ToString(); word.Clear(); Flush(); word.Append(w); }
                word.Append(c);
            }
            else Flush();
        }
        Flush();
        return tokens;
    }
}
