using ServerlessMemory.Core;

namespace ServerlessMemory.Tests;

/// <summary>Limits in characters count Unicode scalar values: what a person types, not UTF-16's code units.</summary>
public sealed class CharactersTests
{
    [Theory]
    [InlineData("", 0)]
    [InlineData("Beijing", 7)]
    [InlineData("北京", 2)]
    [InlineData("😀", 1)]                // U+1F600: two UTF-16 code units
    [InlineData("𠀀", 1)]                // U+20000, CJK extension B: two UTF-16 code units
    [InlineData("e\u0301", 2)]           // e + combining acute: a combining mark is a character of its own
    [InlineData("é", 1)]                 // precomposed
    [InlineData("👍🏽", 2)]              // thumbs up + skin tone modifier
    [InlineData("a😀b𠀀c", 5)]
    public void Count_counts_unicode_scalar_values(string text, int expected) => Assert.Equal(expected, Characters.Count(text));

    [Fact]
    public void A_lone_surrogate_counts_as_one() => Assert.Equal(3, Characters.Count("\ud800x\udc00"));

    [Fact]
    public void A_text_at_the_limit_in_characters_fits_though_it_has_more_code_units()
    {
        var text = new string('x', 3_999) + "😀";

        Assert.Equal(4_001, text.Length);
        Assert.Same(text, Characters.AtMost(text, 4_000, "content"));
        var refused = Assert.Throws<MemoryValidationException>(() => Characters.AtMost(text + "𠀀", 4_000, "content"));
        Assert.Equal("content", refused.Field);
        Assert.Contains("has 4001 characters", refused.Message, StringComparison.Ordinal);
    }
}
