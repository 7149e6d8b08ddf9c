using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace ServerlessMemory.Core;

/// <summary>
/// Terms for lexical search in Chinese and English alike. Words are split on spaces where a language
/// has them; CJK text has none, so it is cut into overlapping character bigrams (项目 in
/// 当前项目是客户流失预测), and single characters are indexed too so that a one-character query finds
/// something. Stores index <see cref="ForIndex"/>; queries use <see cref="ForQuery"/>.
/// </summary>
public static class LexicalTerms
{
    private static readonly HashSet<string> StopWords =
    [
        "a", "an", "the", "and", "or", "but", "of", "to", "in", "on", "at", "for", "with", "by", "from",
        "is", "are", "was", "were", "be", "been", "am", "do", "does", "did", "i", "me", "my", "you", "your",
        "we", "our", "he", "she", "it", "its", "they", "them", "this", "that", "what", "which", "who",
        "how", "say", "said", "about", "as", "so", "if", "not", "no", "yes", "can", "will", "would",
        "have", "has", "had", "there", "here", "then", "than", "too", "very", "just", "s", "t",
    ];

    public static IReadOnlyList<string> ForIndex(string text) => Terms(text, forQuery: false);

    public static IReadOnlyList<string> ForQuery(string text) => Terms(text, forQuery: true);

    /// <summary>The share of the query's terms that the content holds, 0 to 1.</summary>
    public static double Relevance(IReadOnlyList<string> queryTerms, string content)
    {
        if (queryTerms.Count == 0) return 0;
        var contentTerms = new HashSet<string>(ForIndex(content), StringComparer.Ordinal);
        var hits = queryTerms.Count(contentTerms.Contains);
        return (double)hits / queryTerms.Count;
    }

    /// <summary>A hash of the content with case and spacing normalised: equal memories hash alike.</summary>
    public static string ContentHash(string content)
    {
        var normal = string.Join(' ', content.ToLowerInvariant().Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(normal)))[..32];
    }

    private static List<string> Terms(string text, bool forQuery)
    {
        var terms = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var word = new StringBuilder();
        var run = new StringBuilder();

        void Add(string term)
        {
            if (seen.Add(term)) terms.Add(term);
        }

        void FlushWord()
        {
            if (word.Length == 0) return;
            var w = Stem(word.ToString().ToLowerInvariant());
            word.Clear();
            if (!(forQuery && StopWords.Contains(w))) Add(w);
        }

        void FlushRun()
        {
            if (run.Length == 0) return;
            var r = run.ToString();
            run.Clear();
            if (r.Length == 1 || !forQuery)
                foreach (var c in r) Add(c.ToString());
            for (var i = 0; i + 1 < r.Length; i++) Add(r.Substring(i, 2));
        }

        foreach (var rune in text.EnumerateRunes())
        {
            if (IsCjk(rune))
            {
                FlushWord();
                run.Append(rune.ToString());
            }
            else if (Rune.IsLetterOrDigit(rune))
            {
                FlushRun();
                word.Append(rune.ToString());
            }
            else
            {
                FlushWord();
                FlushRun();
            }
        }
        FlushWord();
        FlushRun();
        return terms;
    }

    // Plural "s" only: enough for "projects" to find "project" without a stemmer's surprises.
    private static string Stem(string w) =>
        w.Length > 3 && w[^1] == 's' && w[^2] is not ('s' or 'u' or 'i') ? w[..^1] : w;

    private static bool IsCjk(Rune rune)
    {
        if (rune.Value > 0xFFFF) return Rune.GetUnicodeCategory(rune) == UnicodeCategory.OtherLetter && rune.Value is >= 0x20000 and <= 0x3FFFF;
        return rune.Value is >= 0x3400 and <= 0x4DBF   // CJK extension A
            or >= 0x4E00 and <= 0x9FFF                  // CJK unified ideographs
            or >= 0xF900 and <= 0xFAFF                  // compatibility ideographs
            or >= 0x3040 and <= 0x30FF                  // hiragana, katakana
            or >= 0xAC00 and <= 0xD7AF;                 // hangul syllables
    }
}
