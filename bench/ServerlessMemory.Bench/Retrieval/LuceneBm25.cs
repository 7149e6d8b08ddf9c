// The reference every ranking change is judged against: Lucene.Net's own BM25 with stock analyzers, exhaustive
// over one in-memory index per user holding the very memories the product stores.
using Lucene.Net.Analysis;
using Lucene.Net.Analysis.Cjk;
using Lucene.Net.Analysis.Core;
using Lucene.Net.Analysis.En;
using Lucene.Net.Analysis.Standard;
using Lucene.Net.Analysis.TokenAttributes;
using Lucene.Net.Documents;
using Lucene.Net.Index;
using Lucene.Net.Search;
using Lucene.Net.Search.Similarities;
using Lucene.Net.Store;
using Lucene.Net.Util;

/// <summary>
/// Lucene's <see cref="BM25Similarity"/> (k1 1.2, b 0.75) over a <see cref="RAMDirectory"/> per user; the
/// question is analysed by the same analyzer and asked as a BooleanQuery of SHOULD term queries (what the
/// classic query parser builds from plain words, with no query syntax to escape), top 10 by score.
/// </summary>
internal sealed class LuceneBm25 : IDisposable
{
    private const LuceneVersion Version = LuceneVersion.LUCENE_48;
    private const string Content = "content";
    private const string Key = "key";
    private readonly Analyzer _analyzer;
    private readonly Dictionary<string, (RAMDirectory Directory, DirectoryReader Reader, IndexSearcher Searcher)> _users = new(StringComparer.Ordinal);

    private LuceneBm25(string name, LabelledSet set, Analyzer analyzer)
    {
        Name = name;
        _analyzer = analyzer;
        var similarity = new BM25Similarity(1.2f, 0.75f);
        foreach (var (user, memories) in set.Memories)
        {
            var directory = new RAMDirectory();
            using (var writer = new IndexWriter(directory, new IndexWriterConfig(Version, analyzer) { Similarity = similarity, OpenMode = OpenMode.CREATE }))
                foreach (var (key, content) in memories)
                    writer.AddDocument(new Document { new StringField(Key, key, Field.Store.YES), new TextField(Content, content, Field.Store.NO) });
            var reader = DirectoryReader.Open(directory);
            _users[user] = (directory, reader, new IndexSearcher(reader) { Similarity = similarity });
        }
    }

    public string Name { get; }

    /// <summary>The baselines for a set's language: EnglishAnalyzer; for Chinese the CJK analyzer (bigrams) and unigrams + bigrams.</summary>
    public static List<LuceneBm25> For(LabelledSet set)
    {
        // Long questions (MemDaily's chatty ones, as unigrams and bigrams) can exceed the default 1,024 clauses.
        BooleanQuery.MaxClauseCount = 8_192;
        return set.Language == Language.English
            ? [new("Lucene BM25, EnglishAnalyzer", set, new EnglishAnalyzer(Version))]
            : [new("Lucene BM25, CJKAnalyzer (bigrams)", set, new CJKAnalyzer(Version)), new("Lucene BM25, CJK unigrams + bigrams", set, new CjkUnigramsAndBigrams())];
    }

    public IReadOnlyList<string> Rank(LabelledQuestion q)
    {
        var query = new BooleanQuery();
        using (var stream = _analyzer.GetTokenStream(Content, q.Text))
        {
            var term = stream.AddAttribute<ICharTermAttribute>();
            stream.Reset();
            while (stream.IncrementToken()) query.Add(new TermQuery(new Term(Content, term.ToString())), Occur.SHOULD);
            stream.End();
        }
        if (query.Clauses.Count == 0) return [];
        var searcher = _users[q.User].Searcher;
        return [.. searcher.Search(query, 10).ScoreDocs.Select(d => searcher.Doc(d.Doc).Get(Key))];
    }

    public void Dispose()
    {
        foreach (var (directory, reader, _) in _users.Values)
        {
            reader.Dispose();
            directory.Dispose();
        }
        _analyzer.Dispose();
    }

    /// <summary>CJKAnalyzer's chain with the bigram filter also emitting each CJK character: unigrams and bigrams.</summary>
    private sealed class CjkUnigramsAndBigrams : Analyzer
    {
        protected override TokenStreamComponents CreateComponents(string fieldName, TextReader reader)
        {
            var source = new StandardTokenizer(Version, reader);
            TokenStream result = new CJKWidthFilter(source);
            result = new LowerCaseFilter(Version, result);
            result = new CJKBigramFilter(result, CJKScript.HAN | CJKScript.HIRAGANA | CJKScript.KATAKANA | CJKScript.HANGUL, outputUnigrams: true);
            return new TokenStreamComponents(source, new StopFilter(Version, result, CJKAnalyzer.DefaultStopSet));
        }
    }
}
