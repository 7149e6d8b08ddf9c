using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Lucene.Net.Tartarus.Snowball.Ext;

namespace ServerlessMemory.Core;

/// <summary>
/// Terms for lexical search in Chinese and English alike. Words are split on spaces where a language
/// has them and reduced to their stem by the Snowball English stemmer (Lucene.Net), so "allergies"
/// and "allergy", "hiking" and "hiked" meet; CJK text has none, so it is cut into overlapping
/// character bigrams (项目 in 当前项目是客户流失预测), and single characters are indexed too so that
/// a one-character query finds something. Stores index <see cref="ForIndex"/>; queries use
/// <see cref="ForQuery"/>, which also leaves out stop words (and Chinese question words). <see cref="Version"/> names this
/// analysis: a store that kept terms of another version must index them again.
/// </summary>
public static class LexicalTerms
{
    /// <summary>Changes whenever the terms of a text change: 2 is Snowball stemming (1 stripped a plural "s").</summary>
    public const int Version = 2;

    [ThreadStatic] private static EnglishStemmer? t_stemmer;

    private static readonly HashSet<string> StopWords = new(
    [
        "a", "an", "the", "and", "or", "but", "of", "to", "in", "on", "at", "for", "with", "by", "from",
        "is", "are", "was", "were", "be", "been", "am", "do", "does", "did", "i", "me", "my", "you", "your",
        "we", "our", "he", "she", "it", "its", "they", "them", "this", "that", "what", "which", "who",
        "how", "say", "said", "about", "as", "so", "if", "not", "no", "yes", "can", "will", "would",
        "have", "has", "had", "there", "here", "then", "than", "too", "very", "just", "s", "t",
        "his", "her", "him", "their", "us", "when", "where", "why", "any", "some", "all", "into", "out",
        "up", "down", "over", "also", "get", "got", "ll", "re", "ve", "d", "m", "let", "like",
    ], StringComparer.Ordinal);

    // Chinese has its question words too: a question says 什么 (what), a memory rarely does. A query
    // leaves them out as English leaves out "what", and they cut the question as punctuation would:
    // 属于什么科 gives 属于 and 科, not the bigrams 于什 and 么科 that no memory means, and 科, a word
    // of one character, is a term like any other.
    private static readonly HashSet<string> ChineseQuestionWords =
        new(["什么", "为什么", "怎么", "怎么样", "怎样", "哪里", "哪儿", "哪个", "哪些", "多少"], StringComparer.Ordinal);
    private static readonly int LongestQuestionWord = ChineseQuestionWords.Max(w => w.Length);

    public static IReadOnlyList<string> ForIndex(string text) => Terms(text, Pass.Index);

    /// <summary>
    /// At most this many query terms go into a store's lexical filter (an FTS5 phrase or a Cosmos
    /// <c>ARRAY_CONTAINS</c> each): a thousand-character Chinese query makes some two thousand terms,
    /// which no query should carry, while a chat question of a hundred Chinese characters, its real
    /// question after the chatter, makes about 170 with its characters and must be looked up whole.
    /// </summary>
    public const int MaxFilterTerms = 256;

    /// <summary>The terms a store's lexical filter carries, on every store: the first <see cref="MaxFilterTerms"/> distinct ones, in order.</summary>
    public static IReadOnlyList<string> FilterTerms(IReadOnlyList<string> terms)
    {
        ArgumentNullException.ThrowIfNull(terms);
        return [.. terms.Distinct(StringComparer.Ordinal).Take(MaxFilterTerms)];
    }

    public static IReadOnlyList<string> ForQuery(string text) => Terms(text, Pass.Query);

    /// <summary>
    /// <see cref="ForQuery"/>'s terms, each weighing as often as the text says it, and with <paramref name="characterWeight"/>
    /// above 0 also each character of its bigrams, of that weight: a question's bigrams that straddle
    /// two words find nothing, its characters still do. When the text asks something among sentences
    /// that do not (<see cref="Asks"/>), what only those say weighs <paramref name="contextWeight"/> as much:
    /// a message's chatter, or the context its question leans on, should not outweigh the question.
    /// </summary>
    public static (IReadOnlyList<string> Terms, IReadOnlyDictionary<string, double> Weights) WeightedQuery(
        string text, double characterWeight, double contextWeight = 1)
    {
        var sentences = Sentences(text).Select(s => (Text: s, Asks: Asks(s))).ToList();
        var focused = contextWeight != 1 && sentences.Any(s => s.Asks) && !sentences.All(s => s.Asks);
        double Weight((string Text, bool Asks) sentence) => focused && !sentence.Asks ? contextWeight : 1;
        // A term the question repeats weighs as often as it is said, as each is a clause of Lucene's query.
        var terms = new List<string>();
        var weights = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var sentence in sentences)
        {
            var weight = Weight(sentence);
            Walk(sentence.Text, Pass.Query, term =>
            {
                if (!weights.TryGetValue(term, out var held)) terms.Add(term);
                weights[term] = held + weight;
            });
        }
        if (characterWeight <= 0) return (terms, weights);
        var words = new HashSet<string>(terms, StringComparer.Ordinal);
        foreach (var sentence in sentences)
        {
            var weight = characterWeight * Weight(sentence);
            Walk(sentence.Text, Pass.QueryCharacters, term =>
            {
                if (words.Contains(term)) return;
                if (!weights.TryGetValue(term, out var held)) terms.Add(term);
                weights[term] = Math.Max(held, weight);
            });
        }
        return (terms, weights);
    }

    /// <summary>The text's sentences, each with its closing punctuation: cut after 。！？!?；;… and line breaks, and after a full stop before a space.</summary>
    private static List<string> Sentences(string text)
    {
        var sentences = new List<string>();
        var start = 0;
        for (var i = 0; i < text.Length; i++)
        {
            var end = text[i] is '。' or '！' or '？' or '!' or '?' or '；' or ';' or '…' or '\n'
                || (text[i] == '.' && (i + 1 == text.Length || char.IsWhiteSpace(text[i + 1])));
            if (!end || (i + 1 < text.Length && text[i + 1] is '…' or '？' or '?' or '！' or '!')) continue;
            if (!string.IsNullOrWhiteSpace(text[start..(i + 1)])) sentences.Add(text[start..(i + 1)]);
            start = i + 1;
        }
        if (start < text.Length && !string.IsNullOrWhiteSpace(text[start..])) sentences.Add(text[start..]);
        return sentences;
    }

    /// <summary>
    /// True for a sentence that asks: it ends with a question mark, or ends with 吗, or holds a Chinese
    /// question word. (An English sentence without its question mark is not told apart: "When I was
    /// young" starts as a question does.)
    /// </summary>
    private static bool Asks(string sentence)
    {
        var s = sentence.TrimEnd().TrimEnd('。', '.', '…', '！', '!', '；', ';');
        if (s.EndsWith('？') || s.EndsWith('?') || s.EndsWith('吗')) return true;
        foreach (var word in ChineseQuestionWords)
            if (s.Contains(word, StringComparison.Ordinal)) return true;
        return false;
    }

    /// <summary>True for a term that is one CJK character.</summary>
    public static bool IsCjkCharacter(string term) =>
        Rune.DecodeFromUtf16(term, out var rune, out var length) == System.Buffers.OperationStatus.Done && length == term.Length && IsCjk(rune);

    /// <summary>Each index term of the text with how often it occurs, and the text's length in terms: what BM25 reads.</summary>
    public static TermCounts Counts(string text)
    {
        var counts = new Dictionary<string, int>(32, StringComparer.Ordinal);
        var length = 0;
        Walk(text, Pass.Index, term =>
        {
            counts[term] = counts.GetValueOrDefault(term) + 1;
            length++;
        });
        return new(counts, length);
    }

    /// <summary>The share of the query's terms that the content holds, 0 to 1 (coordinate match: what a store uses to cut candidates).</summary>
    public static double Relevance(IReadOnlyList<string> queryTerms, string content)
    {
        ArgumentNullException.ThrowIfNull(queryTerms);
        if (queryTerms.Count == 0) return 0;
        var contentTerms = new HashSet<string>(ForIndex(content), StringComparer.Ordinal);
        var hits = queryTerms.Count(contentTerms.Contains);
        return (double)hits / queryTerms.Count;
    }

    /// <summary>A hash of the content with case and spacing normalised: equal memories hash alike.</summary>
    public static string ContentHash(string content)
    {
        ArgumentNullException.ThrowIfNull(content);
        var normal = string.Join(' ', content.ToLowerInvariant().Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(normal)))[..32];
    }

    private static List<string> Terms(string text, Pass pass)
    {
        var terms = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        Walk(text, pass, term =>
        {
            if (seen.Add(term)) terms.Add(term);
        });
        return terms;
    }

    /// <summary>What a walk over a text emits: a memory's terms, a question's, or the characters of a question's bigrams.</summary>
    private enum Pass { Index, Query, QueryCharacters }

    /// <summary>Every term of the text in order, repeats included.</summary>
    private static void Walk(string text, Pass pass, Action<string> emit)
    {
        ArgumentNullException.ThrowIfNull(text);
        var forQuery = pass != Pass.Index;
        // A word is a span of the text (letters and digits are never cut apart); a CJK run is cut
        // into characters, which may be surrogate pairs.
        var wordStart = -1;
        var run = new StringBuilder();

        void FlushWord(int end)
        {
            if (wordStart < 0) return;
            var word = text.AsSpan(wordStart, end - wordStart);
            wordStart = -1;
            Span<char> lower = word.Length <= 64 ? stackalloc char[word.Length] : new char[word.Length];
            word.ToLowerInvariant(lower);
            if (pass == Pass.QueryCharacters || (forQuery && StopWordsBySpan.Contains(lower))) return;
            emit(Stem(lower));
        }

        void FlushRun()
        {
            if (run.Length == 0) return;
            var r = run.ToString();
            run.Clear();
            var chars = StringInfo.GetTextElementEnumerator(r);
            var units = new List<string>();
            while (chars.MoveNext()) units.Add((string)chars.Current);
            if (!forQuery)
            {
                foreach (var c in units) emit(c);
                EmitBigrams(units);
                return;
            }
            var start = 0;
            for (var i = 0; i < units.Count;)
            {
                var word = QuestionWordAt(units, i);
                if (word == 0)
                {
                    i++;
                    continue;
                }
                EmitPart(units[start..i]);
                start = i += word;
            }
            EmitPart(units[start..]);
        }

        // A part of a question between its question words: a lone character is a word; more make bigrams.
        void EmitPart(List<string> part)
        {
            if (pass == Pass.QueryCharacters)
            {
                if (part.Count > 1) foreach (var c in part) emit(c);
            }
            else if (part.Count == 1) emit(part[0]);
            else EmitBigrams(part);
        }

        void EmitBigrams(List<string> units)
        {
            for (var i = 0; i + 1 < units.Count; i++) emit(units[i] + units[i + 1]);
        }

        var at = 0;
        foreach (var rune in text.EnumerateRunes())
        {
            if (IsCjk(rune))
            {
                FlushWord(at);
                run.Append(rune.ToString());
            }
            else if (Rune.IsLetterOrDigit(rune))
            {
                FlushRun();
                if (wordStart < 0) wordStart = at;
            }
            else
            {
                FlushWord(at);
                FlushRun();
            }
            at += rune.Utf16SequenceLength;
        }
        FlushWord(at);
        FlushRun();
    }

    /// <summary>The length in characters of the longest Chinese question word at <paramref name="at"/>, or 0.</summary>
    private static int QuestionWordAt(List<string> units, int at)
    {
        for (var length = Math.Min(LongestQuestionWord, units.Count - at); length >= 2; length--)
            if (ChineseQuestionWords.Contains(string.Concat(units.GetRange(at, length)))) return length;
        return 0;
    }

    private static readonly HashSet<string>.AlternateLookup<ReadOnlySpan<char>> StopWordsBySpan = StopWords.GetAlternateLookup<ReadOnlySpan<char>>();

    // Stemming is most of what tokenising costs, and a user's vocabulary is small: each word's stem
    // is kept (up to a bound, then the memo starts again) so ranking a search's candidates stems
    // few words.
    private const int StemMemoSize = 50_000;
    private static readonly ConcurrentDictionary<string, string> StemMemo = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> StemMemoBySpan =
        StemMemo.GetAlternateLookup<ReadOnlySpan<char>>();

    /// <summary>The Snowball (Porter2) English stem of a lower-case word; words with digits or outside Latin letters stay as they are.</summary>
    private static string Stem(ReadOnlySpan<char> word)
    {
        if (StemMemoBySpan.TryGetValue(word, out var known)) return known;
        var text = word.ToString();
        var stem = text;
        if (text.Length >= 3 && text.All(c => c is >= 'a' and <= 'z'))
        {
            var stemmer = t_stemmer ??= new EnglishStemmer();
            stemmer.SetCurrent(text);
            stemmer.Stem();
            stem = stemmer.Current;
        }
        if (StemMemo.Count >= StemMemoSize) StemMemo.Clear();
        StemMemo.TryAdd(text, stem);
        return stem;
    }

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

/// <summary>A text's index terms with their counts, and its length in terms.</summary>
public sealed record TermCounts(IReadOnlyDictionary<string, int> Terms, int Length);
