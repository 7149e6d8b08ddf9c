// Chinese word segmenters measured against the CJK bigrams the product indexes (issue 10: "Chinese still
// found without spaces: measure bigrams against a segmenter and keep what wins"). Bench only: each one
// feeds the same textbook Okapi BM25 as the bigram baseline, so only the terms differ.
using JiebaNet.Segmenter;
using Lucene.Net.Analysis;
using Lucene.Net.Analysis.Cn.Smart;
using Lucene.Net.Analysis.TokenAttributes;

internal static class ChineseTokenisers
{
    /// <summary>
    /// The tokenisers to measure, each warmed up (dictionaries loaded) before it is returned, so the
    /// bench's time per question is the query's segmentation and ranking, not a one-off load.
    /// </summary>
    public static IEnumerable<(string Name, Func<string, List<string>> Tokens)> All()
    {
        var smartCn = new SmartCnWords();
        var jieba = new JiebaWords();
        yield return ("SmartCn words", smartCn.Tokens);
        yield return ("jieba words (precise mode)", jieba.Precise);
        yield return ("jieba words (search mode)", jieba.SearchMode);
        // Both kinds of term in one document: the segmenter's CJK words are kept apart from the
        // bigrams ("w:" prefix), so a two-character word and the same bigram count as two matches.
        yield return ("bigrams + SmartCn words", text => Combined(text, smartCn.Tokens));
        yield return ("bigrams + jieba search-mode words", text => Combined(text, jieba.SearchMode));
    }

    private static List<string> Combined(string text, Func<string, List<string>> words)
    {
        var tokens = TextbookBm25.Words(text, chinese: true);
        // Latin words and numbers are already among the bigram tokeniser's terms: only CJK words are added.
        tokens.AddRange(words(text).Where(w => w.Any(IsCjk)).Select(w => "w:" + w));
        return tokens;
    }

    private static bool IsCjk(char c) => c is >= '\u4e00' and <= '\u9fff';

    /// <summary>Words as the segmenters give them, lower-cased; punctuation and spaces (emitted as tokens) dropped.</summary>
    private static void AddWord(List<string> tokens, string word)
    {
        var w = word.Trim();
        if (w.Any(char.IsLetterOrDigit)) tokens.Add(w.ToLowerInvariant());
    }

    /// <summary>
    /// Lucene's SmartCn: HMMChineseTokenizer (hidden Markov model over its bundled word and bigram
    /// dictionaries; it also folds full-width letters and digits). SmartChineseAnalyzer's Porter stemmer
    /// and punctuation stop list are left out, as the textbook baseline stems nothing.
    /// </summary>
    private sealed class SmartCnWords
    {
        private readonly Analyzer _analyzer = Analyzer.NewAnonymous((_, reader) => new TokenStreamComponents(new HMMChineseTokenizer(reader)));

        public SmartCnWords() => Tokens("预热词典");

        public List<string> Tokens(string text)
        {
            var tokens = new List<string>();
            using var stream = _analyzer.GetTokenStream("content", text);
            var term = stream.AddAttribute<ICharTermAttribute>();
            stream.Reset();
            while (stream.IncrementToken()) AddWord(tokens, term.ToString());
            stream.End();
            return tokens;
        }
    }

    /// <summary>
    /// jieba.NET: prefix dictionary (dict.txt, 349,046 words) with HMM for words it does not know.
    /// Precise mode cuts each sentence once; search mode adds the dictionary words inside long words
    /// (中华人民共和国 → 中华, 华人, 人民, 共和, 共和国, 中华人民共和国), as jieba advises for search engines.
    /// </summary>
    private sealed class JiebaWords
    {
        private readonly JiebaSegmenter _segmenter;

        public JiebaWords()
        {
            // The package ships its dictionary outside lib/; the bench's project copies it to jieba/.
            var resources = Path.Combine(AppContext.BaseDirectory, "jieba");
            if (!File.Exists(Path.Combine(resources, "dict.txt")))
                throw new FileNotFoundException($"jieba.NET's dictionary is not at {resources}: build the bench project, which copies it from the package");
            ConfigManager.ConfigFileBaseDir = resources;
            _segmenter = new JiebaSegmenter();
            Precise("预热词典");
        }

        public List<string> Precise(string text)
        {
            var tokens = new List<string>();
            foreach (var w in _segmenter.Cut(text, cutAll: false, hmm: true)) AddWord(tokens, w);
            return tokens;
        }

        public List<string> SearchMode(string text)
        {
            var tokens = new List<string>();
            foreach (var w in _segmenter.CutForSearch(text, hmm: true)) AddWord(tokens, w);
            return tokens;
        }
    }
}
