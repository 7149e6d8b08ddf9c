using System.Text.Json.Nodes;
using static ServerlessMemory.Tests.Api.HttpAssert;

namespace ServerlessMemory.Tests.Api;

/// <summary>Facts appended to a block past its limit, and the check that none of them was lost.</summary>
internal static class KeptFacts
{
    /// <summary>About 100 characters, distinct by number: 40 of them are twice key_facts' 2,000.</summary>
    public static string Fact(int i) => $"Fact {i:D2}: the user keeps a distinct detail numbered {i:D2} about their life, their work and their family.";

    public static async Task<JsonObject> BlockOf(HttpClient http, string user, string label) =>
        (JsonObject)(await Ok(await http.GetAsync($"/api/users/{user}/memory/core")))["blocks"]!.AsArray()
            .Single(b => (string?)b!["label"] == label)!;

    /// <summary>
    /// Every fact is a line of the block or found by a default search, as a fact memory; with
    /// <paramref name="start"/>, archived with the time it was learnt (fact i at start + i hours).
    /// </summary>
    public static async Task AssertEveryFactIsInCoreOrFoundInTheArchive(HttpClient http, string user, string label, int facts,
        Func<int, string> fact, DateTimeOffset? start = null)
    {
        var block = await BlockOf(http, user, label);
        var value = (string)block["value"]!;
        Assert.True(value.Length <= (int)block["limit"]!, $"{label} holds {value.Length} characters");
        var lost = new List<int>();
        for (var i = 0; i < facts; i++)
        {
            if (value.Split('\n').Contains(fact(i))) continue;
            var found = (await Ok(await http.GetAsync($"/api/users/{user}/memory/archive?query=numbered+{i:D2}&top=5")))["items"]!.AsArray();
            var hit = found.FirstOrDefault(f => (string?)f!["content"] == fact(i));
            if (hit is null)
            {
                lost.Add(i);
                continue;
            }
            Assert.Equal("fact", (string?)hit["type"]);
            if (start is { } t0) Assert.Equal(t0.AddHours(i), (DateTimeOffset)hit["createdAt"]!);
        }
        Assert.True(lost.Count == 0, $"{lost.Count} of {facts} facts are neither in {label} nor found in the archive: {string.Join(", ", lost)}");
    }
}
