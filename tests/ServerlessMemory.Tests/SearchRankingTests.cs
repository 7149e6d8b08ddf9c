using ServerlessMemory.Core;

namespace ServerlessMemory.Tests;

/// <summary>How the engine ranks what a store found: BM25 with the store's statistics, floors, and rank fusion.</summary>
public class SearchRankingTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 8, 0, 0, TimeSpan.Zero);
    private static readonly SearchOptions Options = new();

    private static ArchiveCandidate Candidate(string content, double? similarity = null) => new(new ArchiveItem
    {
        Id = LexicalTerms.ContentHash(content), Content = content, CreatedAt = T0, LastAccessedAt = T0,
    }, similarity);

    private static List<string> Ranked(string query, IReadOnlyList<ArchiveCandidate> candidates, TermStatistics? statistics = null, SearchOptions? options = null) =>
        [.. ArchiveRanking.Relevant(LexicalTerms.ForQuery(query), candidates, statistics, options ?? Options)
            .OrderByDescending(r => r.Relevance).Select(r => r.Candidate.Item.Content)];

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
        var candidates = new List<ArchiveCandidate>
        {
            Candidate("Melanie: Melanie here, Melanie went running"),
            Candidate("Melanie: I signed up for a pottery class"),
            Candidate("Melanie: the kids loved the museum"),
        };
        var statistics = new TermStatistics(1_000, new Dictionary<string, long> { ["melani"] = 900, ["potteri"] = 3 });

        Assert.Equal("Melanie: I signed up for a pottery class", Ranked("What pottery did Melanie make?", candidates, statistics)[0]);
    }

    [Fact]
    public void A_memory_sharing_only_a_common_term_with_the_query_is_not_relevant()
    {
        var candidates = new List<ArchiveCandidate> { Candidate("Melanie: the kids loved the museum"), Candidate("Melanie: pottery class on Friday") };
        var statistics = new TermStatistics(1_000, new Dictionary<string, long> { ["melani"] = 900, ["potteri"] = 3 });

        Assert.Equal(["Melanie: pottery class on Friday"], Ranked("Melanie pottery", candidates, statistics));
    }

    [Fact]
    public void A_chinese_question_finds_the_one_memory_that_answers_it()
    {
        // The README's first search: one memory, and a question whose only shared term is 项目.
        var statistics = new TermStatistics(1, new Dictionary<string, long> { ["项目"] = 1 });

        Assert.Equal(["当前项目是客户流失预测"], Ranked("我在做什么项目", [Candidate("当前项目是客户流失预测")], statistics));
        Assert.Equal(["当前项目是客户流失预测"], Ranked("我在做什么项目", [Candidate("当前项目是客户流失预测")]));
    }

    [Fact]
    public void A_query_of_stop_words_only_finds_nothing()
    {
        Assert.Empty(LexicalTerms.ForQuery("what is the and of it?"));
        Assert.Empty(Ranked("the of and", [Candidate("the history of the town and its people")]));
    }

    [Fact]
    public void A_faint_vector_match_is_not_relevant()
    {
        var candidates = new List<ArchiveCandidate> { Candidate("had a coffee", 0.62), Candidate("works on churn prediction", 0.08) };

        Assert.Equal(["had a coffee"], Ranked("beverage", candidates));
    }

    [Fact]
    public void Fusion_keeps_a_strong_lexical_match_among_the_first_however_the_vectors_rank_it()
    {
        var candidates = new List<ArchiveCandidate>
        {
            Candidate("the falcon project ships in May", 0.31),
            Candidate("a meeting about budgets", 0.55),
            Candidate("weekend plans with the family", 0.50),
        };

        var ranked = Ranked("falcon project", candidates);

        Assert.Equal(3, ranked.Count);
        Assert.Equal("the falcon project ships in May", ranked[0]);
    }

    [Fact]
    public void Without_statistics_rarity_is_counted_over_the_candidates()
    {
        var candidates = new List<ArchiveCandidate>
        {
            Candidate("Caroline: adoption agency interview passed"),
            Candidate("Caroline: went to a parade"),
            Candidate("Caroline: painted a sunset"),
            Candidate("Caroline: read a book"),
        };

        Assert.Equal("Caroline: adoption agency interview passed", Ranked("Caroline adoption", candidates)[0]);
        Assert.Single(Ranked("Caroline adoption", candidates));
    }
}
