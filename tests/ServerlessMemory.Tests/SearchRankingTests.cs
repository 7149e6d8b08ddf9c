using ServerlessMemory.Core;

namespace ServerlessMemory.Tests;

/// <summary>How the engine ranks what a store found: BM25 with the store's statistics, floors, and rank fusion.</summary>
public class SearchRankingTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 8, 0, 0, TimeSpan.Zero);
    private static readonly SearchOptions Options = new();

    /// <summary>
    /// The engine's ranking over an archive of these memories: BM25 of the query's weighted terms over
    /// an index of all of them (as a store's matches give it), each memory's similarity as given, fused, best first.
    /// </summary>
    private static List<string> Ranked(string query, IReadOnlyList<(string Content, double? Similarity)> archive, SearchOptions? options = null)
    {
        options ??= Options;
        var index = new LexicalIndex();
        index.Add(archive.Select(m => (LexicalTerms.ContentHash(m.Content), m.Content)));
        var (terms, weights) = LexicalTerms.WeightedQuery(query, options.CjkCharacterWeight, options.ContextWeight);
        var matches = index.Match(terms);
        var scores = ArchiveRanking.Bm25(matches, options, weights).Select((x, i) => (matches.Ids[i], x)).ToDictionary(p => p.Item1, p => p.x);
        var candidates = archive.Select(m => new ArchiveCandidate(new ArchiveItem
        {
            Id = LexicalTerms.ContentHash(m.Content), Content = m.Content, CreatedAt = T0, EnteredAt = T0, LastAccessedAt = T0,
        }, m.Similarity, scores.TryGetValue(LexicalTerms.ContentHash(m.Content), out var x) ? x : null)).ToList();
        return [.. ArchiveRanking.Relevant(candidates, options).OrderByDescending(r => r.Relevance).Select(r => r.Candidate.Item.Content)];
    }

    private static List<(string, double?)> Words(params string[] contents) => [.. contents.Select(c => (c, (double?)null))];

    /// <summary>Memories that share the speaker's name with every question and nothing else.</summary>
    private static IEnumerable<string> Chatter(string speaker, int count) =>
        Enumerable.Range(0, count).Select(i => $"{speaker}: talked about the weather, day {i}");

    [Fact]
    public void Stemming_lets_an_inflected_query_find_the_memory()
    {
        Assert.Equal(LexicalTerms.ForQuery("allergies"), LexicalTerms.ForQuery("allergy"));
        Assert.Contains(LexicalTerms.ForQuery("hiking")[0], LexicalTerms.ForIndex("We hiked up the ridge"));
    }

    [Fact]
    public void A_rare_term_outweighs_a_common_one()
    {
        // The speaker's name is in every memory; the question is about pottery.
        var ranked = Ranked("What pottery did Melanie make?", Words(
        [
            "Melanie: Melanie here, Melanie went running",
            "Melanie: I signed up for a pottery class",
            "Melanie: the kids loved the museum",
            .. Chatter("Melanie", 50),
        ]));

        Assert.Equal("Melanie: I signed up for a pottery class", ranked[0]);
    }

    [Fact]
    public void A_memory_sharing_only_a_common_term_with_the_query_is_not_relevant()
    {
        var ranked = Ranked("Melanie pottery", Words(["Melanie: the kids loved the museum", "Melanie: pottery class on Friday", .. Chatter("Melanie", 50)]));

        Assert.Equal(["Melanie: pottery class on Friday"], ranked);
    }

    [Fact]
    public void A_chinese_question_finds_the_one_memory_that_answers_it()
    {
        // The README's first search: one memory, and a question whose only shared term is 项目.
        Assert.Equal(["当前项目是客户流失预测"], Ranked("我在做什么项目", Words("当前项目是客户流失预测")));
    }

    [Fact]
    public void A_question_wrapped_in_chatter_recalls_what_it_asks_about_into_a_chat_turn()
    {
        // It must be among the five memories a chat turn recalls into the prompt (RecallTop).
        var ranked = Ranked(WrappedQuestion.Message, Words(WrappedQuestion.Archive));

        Assert.Contains(WrappedQuestion.Answer, ranked.Take(new ChatTurnOptions().RecallTop));
    }

    /// <summary>
    /// A question wrapped in chatter: the chatter's words are in other memories, each matching one; the
    /// memory that answers holds only the question's last words.
    /// </summary>
    internal static class WrappedQuestion
    {
        public const string Answer = "周三下午和王医生在仁和医院复查";
        public const string Message =
            "哎呀，上周末和同事去爬山累坏了，妈妈又说下个月要来北京住，家里还在装修，新买的加湿器也坏了，最近真是忙死了，" +
            "周末又要加班，天气也不好，孩子还感冒了，晚上也睡不好，心情有点烦躁，工作上的事情也很多……我本来想问的是，我复查的医院叫什么？";
        public static readonly string[] Archive =
        [
            Answer, "最近在学吉他，每天练半小时", "上个周末去了海边看日出", "公司下个月要加班赶项目进度", "天气预报说明天有大雨",
            "孩子喜欢画画和搭积木", "感冒药放在客厅的抽屉里", "晚上七点和朋友在火锅店吃饭", "心情低落时会去公园跑步",
            "烦躁的时候喜欢听古典音乐", "工作地点在上海浦东新区", "装修的事情下周再商量", "买了一个新的加湿器",
            "妈妈下个月来北京住两周", "睡前会看二十分钟的书", "最喜欢的水果是芒果", "上周末和同事去爬了香山",
        ];
    }

    [Fact]
    public void The_context_a_question_leans_on_still_counts()
    {
        var ranked = Ranked("My sister Ana came over last weekend. Where does she live now?",
            Words("My neighbour lives in Lisbon now", "Bruno lives in Braga now", "Ana lives in Porto now"));

        Assert.Equal("Ana lives in Porto now", ranked[0]);
    }

    [Fact]
    public void A_query_of_stop_words_only_finds_nothing()
    {
        Assert.Empty(LexicalTerms.ForQuery("what is the and of it?"));
        Assert.Empty(Ranked("the of and", Words("the history of the town and its people")));
    }

    [Fact]
    public void A_faint_vector_match_is_not_relevant()
    {
        Assert.Equal(["had a coffee"], Ranked("beverage", [("had a coffee", 0.62), ("works on churn prediction", 0.08)]));
    }

    [Fact]
    public void Fusion_keeps_a_strong_lexical_match_first_however_the_vectors_rank_it()
    {
        var ranked = Ranked("falcon project", [
            ("the falcon project ships in May", 0.31),
            ("a meeting about budgets", 0.95),
            ("weekend plans with the family", 0.90),
        ]);

        Assert.Equal(3, ranked.Count);
        Assert.Equal("the falcon project ships in May", ranked[0]);
    }

    [Fact]
    public void Lexical_relevance_keeps_the_strength_of_the_match_not_its_rank()
    {
        // Ranks would give the best match of a weak query the same relevance as that of a strong one.
        var archive = Words(["Caroline: adoption agency interview passed", "Caroline: hospital visit after surgery", "Caroline: went to a parade", .. Chatter("Caroline", 20)]);
        var index = new LexicalIndex();
        index.Add(archive.Select(m => (LexicalTerms.ContentHash(m.Item1), m.Item1)));
        double Best(string query) => ArchiveRanking.Bm25(index.Match(LexicalTerms.ForQuery(query)), Options).Max();

        var full = ArchiveRanking.LexicalRelevance(Best("adoption agency interview"));
        var partial = ArchiveRanking.LexicalRelevance(Best("adoption agency interview hospital surgery"));

        Assert.InRange(full, 0.7, 0.95);
        Assert.InRange(partial, 0.2, full - 0.1);
    }

    [Fact]
    public void A_vector_match_adds_at_most_its_weight_of_what_is_left()
    {
        var options = new SearchOptions();
        var lexicalOnly = new ArchiveCandidate(new ArchiveItem { Id = "a", Content = "a", CreatedAt = T0, EnteredAt = T0, LastAccessedAt = T0 }, null, 1.0);
        var both = lexicalOnly with { Item = lexicalOnly.Item with { Id = "b" }, VectorSimilarity = 1.0, LexicalScore = 0.5 };

        var relevance = ArchiveRanking.Relevant([lexicalOnly, both], options).ToDictionary(r => r.Candidate.Item.Id, r => r.Relevance);

        Assert.Equal(0.75, relevance["a"], 6);
        Assert.Equal(0.5 + options.VectorWeight * 0.5, relevance["b"], 6);
    }
}
