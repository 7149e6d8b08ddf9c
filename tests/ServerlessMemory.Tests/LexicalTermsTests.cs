using ServerlessMemory.Core;

namespace ServerlessMemory.Tests;

public class LexicalTermsTests
{
    [Fact]
    public void Chinese_is_cut_into_bigrams_so_two_character_words_match()
    {
        var indexed = LexicalTerms.ForIndex("当前项目是客户流失预测");

        Assert.Contains("项目", indexed);
        Assert.Contains("流失", indexed);
        Assert.Contains("项", indexed);
        Assert.Equal(["项目"], LexicalTerms.ForQuery("项目"));
    }

    [Fact]
    public void A_chinese_question_finds_the_memory_it_asks_about()
    {
        var query = LexicalTerms.ForQuery("我在做什么项目？");

        Assert.True(LexicalTerms.Relevance(query, "当前项目是客户流失预测") > 0);
        Assert.Equal(0, LexicalTerms.Relevance(query, "用户今天喝了一杯咖啡"));
    }

    [Fact]
    public void A_chinese_question_leaves_out_its_question_words_as_english_leaves_out_what()
    {
        Assert.DoesNotContain("什么", LexicalTerms.ForQuery("我在做什么项目？"));
        Assert.DoesNotContain("为什", LexicalTerms.ForQuery("他为什么搬家"));
        Assert.Contains("搬家", LexicalTerms.ForQuery("他为什么搬家"));
        // A memory keeps them: only the question drops them.
        Assert.Contains("什么", LexicalTerms.ForIndex("他问我想吃什么"));
    }

    [Fact]
    public void A_chinese_question_word_cuts_the_question_as_punctuation_does()
    {
        var query = LexicalTerms.ForQuery("前肛鳗属于什么科？");

        // 于什 and 么科 straddle the question word: no memory means them.
        Assert.DoesNotContain("于什", query);
        Assert.DoesNotContain("么科", query);
        Assert.Contains("属于", query);
        // 科 stands alone, a one-character word: a term of the question like any other.
        Assert.Contains("科", query);
        var (_, weights) = LexicalTerms.WeightedQuery("前肛鳗属于什么科？", characterWeight: 0.4);
        Assert.Equal(1, weights["科"]);
        Assert.Equal(0.4, weights["鳗"]);
        Assert.False(weights.ContainsKey("什"));
        Assert.False(weights.ContainsKey("么"));
    }

    [Fact]
    public void In_a_message_that_asks_amid_other_sentences_what_only_those_say_weighs_less()
    {
        var (_, weights) = LexicalTerms.WeightedQuery("上周末去爬山了。我复查的医院叫什么？", characterWeight: 0.4, contextWeight: 0.5);

        Assert.Equal(1, weights["医院"]);
        Assert.Equal(0.4, weights["院"]);
        Assert.Equal(0.5, weights["爬山"]);
        Assert.Equal(0.2, weights["爬"], 10);
        var (_, english) = LexicalTerms.WeightedQuery("I moved to Porto in 3.5 days. Where do I live?", characterWeight: 0.4, contextWeight: 0.5);
        Assert.Equal(1, english["live"]);
        Assert.Equal(0.5, english["move"]);
        Assert.Equal(0.5, english["3"]);
    }

    [Theory]
    [InlineData("我复查的医院叫什么？")]
    [InlineData("上周末去爬山了。妈妈下个月要来北京。")]
    [InlineData("上周末去爬山了吗？医院在哪里？")]
    public void A_message_that_only_asks_or_only_tells_weighs_every_sentence_alike(string message)
    {
        var (terms, weights) = LexicalTerms.WeightedQuery(message, characterWeight: 0, contextWeight: 0.5);

        Assert.All(terms, term => Assert.Equal(1, weights[term]));
    }

    [Fact]
    public void English_drops_stop_words_only_in_queries_and_stems_words_everywhere()
    {
        var query = LexicalTerms.ForQuery("What projects did I say I was working on?");

        Assert.Equal(["project", "work"], query);
        Assert.Contains("work", LexicalTerms.ForIndex("I worked on it"));
        Assert.Equal(0.5, LexicalTerms.Relevance(query, "The user is on a customer-churn project"));
    }

    [Fact]
    public void Mixed_text_keeps_both_scripts()
    {
        var terms = LexicalTerms.ForQuery("用XGBoost做流失预测");

        Assert.Contains("xgboost", terms);
        Assert.Contains("流失", terms);
        Assert.Contains("预测", terms);
    }

    [Fact]
    public void Equal_content_up_to_case_and_spacing_hashes_alike()
    {
        Assert.Equal(LexicalTerms.ContentHash("Likes  Python"), LexicalTerms.ContentHash(" likes python "));
        Assert.NotEqual(LexicalTerms.ContentHash("likes python"), LexicalTerms.ContentHash("likes rust"));
    }
}
