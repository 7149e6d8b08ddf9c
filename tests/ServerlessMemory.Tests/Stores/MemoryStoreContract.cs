using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using ServerlessMemory.Core;

namespace ServerlessMemory.Tests.Stores;

/// <summary>
/// What every store must do, written once. A store derives in a line and overrides only where it
/// truly differs; a backend that needs a service carries an <see cref="ITestCondition"/> on its class,
/// and each <see cref="ConditionalFactAttribute"/> test here is skipped, with the reason, without it.
/// Each test uses its own user ids, so a shared database (a Cosmos container) works. Sweep tests use
/// times in the past, so they never touch other tests' memories.
/// </summary>
public abstract class MemoryStoreContract
{
    protected static readonly DateTimeOffset T0 = new(2026, 3, 1, 8, 0, 0, TimeSpan.Zero);

    protected abstract IMemoryStore Store { get; }

    protected static string NewUser() => "u-" + Guid.NewGuid().ToString("N")[..12];

    protected static ArchiveItem Item(string content, MemoryType type = MemoryType.Fact, DateTimeOffset? created = null,
        DateTimeOffset? forgetAt = null, float[]? embedding = null) => new()
    {
        Id = LexicalTerms.ContentHash(content),
        Content = content,
        Type = type,
        Importance = 0.5,
        CreatedAt = created ?? T0,
        EnteredAt = created ?? T0,
        LastAccessedAt = created ?? T0,
        Metadata = new Dictionary<string, string> { ["source"] = "test" },
        ForgetAt = forgetAt ?? T0.AddYears(50),
        Embedding = embedding,
    };

    private static CoreMemory Core(string human, string? etag) =>
        CoreMemory.CreateDefault(2000).With(new MemoryBlock("human", human, 2000, "who")) with { ETag = etag };

    [ConditionalFact]
    public virtual async Task A_new_user_has_no_core_memory() =>
        Assert.Null(await Store.GetCoreAsync(NewUser()));

    [ConditionalFact]
    public virtual async Task Core_memory_round_trips_and_each_write_changes_its_etag()
    {
        var user = NewUser();
        var first = (await Store.CommitAsync(user, new() { Core = Core("小明", null) })).ETag;
        var second = (await Store.CommitAsync(user, new() { Core = Core("小明, data scientist", first) })).ETag;

        var core = await Store.GetCoreAsync(user);

        Assert.NotNull(first);
        Assert.NotEqual(first, second);
        Assert.Equal(second, core!.ETag);
        Assert.Equal("小明, data scientist", core.Find("human")!.Value);
        Assert.Equal(5, core.Blocks.Count);
    }

    [ConditionalFact]
    public virtual async Task Core_memory_keeps_when_each_line_was_added()
    {
        var user = NewUser();
        var core = CoreMemory.CreateDefault(2000).With(new MemoryBlock("human", "Lives in Beijing\nLikes tea", 2000, "who")
        {
            Added = new Dictionary<string, DateTimeOffset> { ["Lives in Beijing"] = T0, ["Likes tea"] = T0.AddDays(1) },
        });

        await Store.CommitAsync(user, new() { Core = core });

        Assert.Equal(new Dictionary<string, DateTimeOffset> { ["Lives in Beijing"] = T0, ["Likes tea"] = T0.AddDays(1) },
            (await Store.GetCoreAsync(user))!.Find("human")!.Added);
    }

    [ConditionalFact]
    public virtual async Task A_stale_etag_conflicts_and_nothing_of_the_change_set_is_written()
    {
        var user = NewUser();
        var first = (await Store.CommitAsync(user, new() { Core = Core("one", null) })).ETag;
        await Store.CommitAsync(user, new() { Core = Core("two", first) });

        await Assert.ThrowsAsync<MemoryConflictException>(() => Store.CommitAsync(user, new()
        {
            Core = Core("three", first),
            ArchiveAdds = [Item("written with a stale core")],
            Messages = [new("m1", "default", "t1", "user", "hello", T0)],
        }));

        Assert.Equal("two", (await Store.GetCoreAsync(user))!.Find("human")!.Value);
        Assert.Null(await Store.GetArchiveItemAsync(user, LexicalTerms.ContentHash("written with a stale core")));
        Assert.Empty((await Store.ListMessagesAsync(user, null, 10, null)).Items);
    }

    [ConditionalFact]
    public virtual async Task Creating_core_memory_twice_conflicts()
    {
        var user = NewUser();
        await Store.CommitAsync(user, new() { Core = Core("one", null) });

        await Assert.ThrowsAsync<MemoryConflictException>(() => Store.CommitAsync(user, new() { Core = Core("two", null) }));
    }

    [ConditionalFact]
    public virtual async Task Archive_items_round_trip()
    {
        var user = NewUser();
        var item = Item("用户偏好简洁的回答", MemoryType.Preference, created: T0.AddHours(-3), forgetAt: T0.AddDays(20));
        await Store.CommitAsync(user, new() { ArchiveAdds = [item] });

        var read = await Store.GetArchiveItemAsync(user, item.Id);

        Assert.Equal(item with { Embedding = null }, read! with { Metadata = item.Metadata });
        Assert.Equal("test", read.Metadata["source"]);
    }

    [ConditionalFact]
    public virtual async Task An_item_keeps_when_it_happened_apart_from_when_it_entered_memory()
    {
        var user = NewUser();
        var dated = Item("adopted a cat named Miso") with { CreatedAt = T0.AddYears(-1), EnteredAt = T0, LastAccessedAt = T0 };
        var stale = Item("had a coffee", MemoryType.Trivial, forgetAt: T0.AddHours(-1));
        await Store.CommitAsync(user, new() { ArchiveAdds = [dated, stale] });
        var renewed = Item("had a coffee") with
        {
            CreatedAt = T0.AddDays(-30), EnteredAt = T0.AddHours(1), LastAccessedAt = T0.AddHours(1), ForgetAt = T0.AddDays(4),
        };

        await Store.CommitAsync(user, new() { ArchiveRenewals = [new(renewed, T0)] });

        Assert.Equal(dated with { Embedding = null }, (await Store.GetArchiveItemAsync(user, dated.Id))! with { Metadata = dated.Metadata });
        Assert.Equal(renewed with { Embedding = null }, (await Store.GetArchiveItemAsync(user, renewed.Id))! with { Metadata = renewed.Metadata });
        Assert.Equal([(renewed.CreatedAt, renewed.EnteredAt, renewed.LastAccessedAt), (dated.CreatedAt, dated.EnteredAt, dated.LastAccessedAt)],
            (await Store.ListArchiveAsync(user, 10, null)).Items.Select(i => (i.CreatedAt, i.EnteredAt, i.LastAccessedAt)).OrderByDescending(t => t.CreatedAt));
    }

    [ConditionalFact]
    public virtual async Task Vectors_are_read_by_id_for_the_items_that_have_one()
    {
        var user = NewUser();
        var with = Item("has a vector", embedding: [0.25f, -1, 3]);
        var without = Item("has none") with { Embedding = null };
        await Store.CommitAsync(user, new() { ArchiveAdds = [with, without] });
        await Store.CommitAsync(NewUser(), new() { ArchiveAdds = [Item("has a vector", embedding: [9, 9, 9])] });

        var vectors = await Store.GetArchiveVectorsAsync(user, [with.Id, without.Id, "absent"]);

        Assert.Equal([with.Id], vectors.Keys);
        Assert.Equal([0.25f, -1, 3], vectors[with.Id].ToArray());
        Assert.Empty(await Store.GetArchiveVectorsAsync(user, []));
    }

    [ConditionalFact]
    public virtual async Task Adding_the_same_memory_again_keeps_the_first()
    {
        var user = NewUser();
        await Store.CommitAsync(user, new() { ArchiveAdds = [Item("likes Python")] });
        await Store.CommitAsync(user, new() { ArchiveAdds = [Item("likes Python") with { Importance = 0.9 }] });

        var page = await Store.ListArchiveAsync(user, 10, null);

        Assert.Equal(0.5, Assert.Single(page.Items).Importance);
    }

    [ConditionalFact]
    public virtual async Task An_access_increments_the_count_and_moves_forget_at()
    {
        var user = NewUser();
        var item = Item("prefers tea");
        await Store.CommitAsync(user, new() { ArchiveAdds = [item] });

        await Store.CommitAsync(user, new() { Accesses = [new(item.Id, T0.AddHours(1), T0.AddDays(3))] });
        await Store.CommitAsync(user, new() { Accesses = [new(item.Id, T0.AddHours(2), T0.AddDays(4))] });

        var read = (await Store.GetArchiveItemAsync(user, item.Id))!;
        Assert.Equal(2, read.AccessCount);
        Assert.Equal(T0.AddHours(2), read.LastAccessedAt);
        Assert.Equal(T0.AddDays(4), read.ForgetAt);
    }

    [ConditionalFact]
    public virtual async Task Lexical_candidates_find_a_two_character_chinese_word()
    {
        var user = NewUser();
        await Store.CommitAsync(user, new() { ArchiveAdds = [Item("当前项目是客户流失预测"), Item("用户今天喝了一杯咖啡"), Item("works with XGBoost")] });

        var found = (await Store.FindArchiveCandidatesAsync(user, LexicalTerms.ForQuery("我在做什么项目"), null, 10));
        var english = (await Store.FindArchiveCandidatesAsync(user, LexicalTerms.ForQuery("xgboost"), null, 10));

        Assert.Equal("当前项目是客户流失预测", Assert.Single(found).Item.Content);
        Assert.Equal("works with XGBoost", Assert.Single(english).Item.Content);
    }

    [ConditionalFact]
    public virtual async Task Vector_candidates_come_nearest_first_with_their_similarity()
    {
        var user = NewUser();
        await Store.CommitAsync(user, new()
        {
            ArchiveAdds = [Item("north", embedding: [1, 0, 0]), Item("east", embedding: [0, 1, 0]), Item("north-east", embedding: [0.7f, 0.7f, 0])],
        });

        var found = (await Store.FindArchiveCandidatesAsync(user, [], new float[] { 2, 0.1f, 0 }, 2));

        Assert.Equal(["north", "north-east"], found.Select(c => c.Item.Content));
        Assert.True(found[0].VectorSimilarity > 0.99);
        Assert.InRange(found[1].VectorSimilarity!.Value, 0.7, 0.8);
    }

    [ConditionalFact]
    public virtual async Task Users_never_see_each_others_memories()
    {
        var (alice, bob) = (NewUser(), NewUser());
        var secret = Item("alice's secret project", embedding: [1, 0, 0]);
        await Store.CommitAsync(alice, new() { ArchiveAdds = [secret], Messages = [new("m", "default", "t", "user", "secret project", T0)] });

        Assert.Null(await Store.GetArchiveItemAsync(bob, secret.Id));
        Assert.Empty((await Store.FindArchiveCandidatesAsync(bob, ["secret", "project"], new float[] { 1, 0, 0 }, 10)));
        Assert.Empty((await Store.ListArchiveAsync(bob, 10, null)).Items);
        Assert.Empty(await Store.SearchMessagesAsync(bob, ["secret"], 10));
        Assert.Empty((await Store.ListMessagesAsync(bob, null, 10, null)).Items);
    }

    [ConditionalFact]
    public virtual async Task The_archive_lists_newest_first_in_pages()
    {
        var user = NewUser();
        await Store.CommitAsync(user, new() { ArchiveAdds = [.. Enumerable.Range(0, 5).Select(i => Item($"memory {i}", created: T0.AddMinutes(i)))] });

        var first = await Store.ListArchiveAsync(user, 2, null);
        var second = await Store.ListArchiveAsync(user, 2, first.ContinuationToken);
        var third = await Store.ListArchiveAsync(user, 2, second.ContinuationToken);

        Assert.Equal(["memory 4", "memory 3", "memory 2", "memory 1", "memory 0"],
            first.Items.Concat(second.Items).Concat(third.Items).Select(i => i.Content));
        Assert.Null(third.ContinuationToken);
    }

    [ConditionalFact]
    public virtual async Task Messages_list_newest_first_per_session_and_are_searchable()
    {
        var user = NewUser();
        await Store.CommitAsync(user, new()
        {
            Messages =
            [
                new("m1", "s1", "t1", "user", "我叫小明，是一名数据科学家", T0),
                new("m2", "s1", "t1", "assistant", "Nice to meet you", T0.AddSeconds(1)),
                new("m3", "s2", "t2", "user", "I use XGBoost", T0.AddSeconds(2)),
            ],
        });

        var s1 = await Store.ListMessagesAsync(user, "s1", 1, null);
        var s1Rest = await Store.ListMessagesAsync(user, "s1", 5, s1.ContinuationToken);
        var all = await Store.ListMessagesAsync(user, null, 10, null);
        var found = await Store.SearchMessagesAsync(user, LexicalTerms.ForQuery("数据科学"), 10);

        Assert.Equal(["m2", "m1"], s1.Items.Concat(s1Rest.Items).Select(m => m.Id));
        Assert.Equal(["m3", "m2", "m1"], all.Items.Select(m => m.Id));
        Assert.Equal("m1", Assert.Single(found).Id);
    }

    [ConditionalFact]
    public virtual async Task A_message_search_filters_by_the_first_distinct_terms_whatever_the_store()
    {
        var user = NewUser();
        await Store.CommitAsync(user, new() { Messages = [new("m1", "s1", "t1", "user", "I use XGBoost", T0)] });

        // Repeats count once towards the filter's terms, on every store (LexicalTerms.FilterTerms).
        var found = await Store.SearchMessagesAsync(user, [.. Enumerable.Repeat("nothing", LexicalTerms.MaxFilterTerms), "xgboost"], 10);
        var past = await Store.SearchMessagesAsync(user, [.. Enumerable.Range(0, LexicalTerms.MaxFilterTerms).Select(i => $"nothing{i}"), "xgboost"], 10);

        Assert.Equal("m1", Assert.Single(found).Id);
        Assert.Empty(past);
    }

    [ConditionalFact]
    public virtual async Task Session_summaries_are_written_with_optimistic_concurrency()
    {
        var user = NewUser();
        await Store.CommitAsync(user, new() { Session = new("s1", "talked about churn", T0, null) });
        var stored = (await Store.GetSessionAsync(user, "s1"))!;
        await Store.CommitAsync(user, new() { Session = stored with { Summary = "talked about churn and XGBoost" } });

        await Assert.ThrowsAsync<MemoryConflictException>(() => Store.CommitAsync(user, new() { Session = stored with { Summary = "stale" } }));
        Assert.Equal("talked about churn and XGBoost", (await Store.GetSessionAsync(user, "s1"))!.Summary);
        Assert.Null(await Store.GetSessionAsync(user, "s2"));
    }

    [ConditionalFact]
    public virtual async Task Deleting_an_archive_item_removes_it_from_search()
    {
        var user = NewUser();
        var item = Item("likes hiking", embedding: [1, 0, 0]);
        await Store.CommitAsync(user, new() { ArchiveAdds = [item] });
        Assert.Single((await Store.FindArchiveCandidatesAsync(user, ["hiking"], new float[] { 1, 0, 0 }, 5)));

        await Store.CommitAsync(user, new() { ArchiveDeletes = [item.Id] });

        Assert.Null(await Store.GetArchiveItemAsync(user, item.Id));
        Assert.Empty((await Store.FindArchiveCandidatesAsync(user, ["hiking"], new float[] { 1, 0, 0 }, 5)));
    }

    [ConditionalFact]
    public virtual async Task Of_concurrent_deletes_of_one_item_exactly_one_says_it_deleted_it()
    {
        var user = NewUser();
        var item = Item("deleted by twenty at once");
        await Store.CommitAsync(user, new() { ArchiveAdds = [item] });

        var deleted = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Task.Run(() => Store.DeleteArchiveItemAsync(user, item.Id))));

        Assert.Equal(1, deleted.Count(d => d));
        Assert.Null(await Store.GetArchiveItemAsync(user, item.Id));
        Assert.False(await Store.DeleteArchiveItemAsync(user, item.Id));
    }

    [ConditionalFact]
    public virtual async Task What_a_search_counts_follows_every_add_delete_and_sweep_that_came_before_it()
    {
        var user = NewUser();
        var past = new DateTimeOffset(2001, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var coffee = LexicalTerms.ForQuery("coffee");
        async Task<(string[] Found, long Documents, long Frequency, int[] Lengths)> SearchAsync()
        {
            var found = await Store.FindArchiveCandidatesAsync(user, coffee, null, 10);
            var matches = await Store.FindLexicalMatchesAsync(user, coffee);
            return ([.. found.Select(c => c.Item.Content).Order(StringComparer.Ordinal)], matches.Documents,
                matches.Terms.SingleOrDefault(t => t.Term == coffee[0])?.DocumentFrequency ?? 0, [.. matches.Lengths.Order()]);
        }
        static void Counted((string[] Found, long Documents, long Frequency, int[] Lengths) search, string[] found, long documents)
        {
            Assert.Equal(found, search.Found);
            Assert.Equal((documents, found.Length), (search.Documents, search.Frequency));
            Assert.Equal(found.Select(f => LexicalTerms.Counts(f).Length).Order(), search.Lengths);
        }

        await Store.CommitAsync(user, new() { ArchiveAdds = [Item("black coffee"), Item("tea", forgetAt: past)] });
        Counted(await SearchAsync(), ["black coffee"], 2);

        await Store.CommitAsync(user, new() { ArchiveAdds = [Item("coffee with milk", forgetAt: past.AddHours(-1)), Item("iced coffee")] });
        Counted(await SearchAsync(), ["black coffee", "coffee with milk", "iced coffee"], 4);

        await Store.DeleteArchiveItemAsync(user, LexicalTerms.ContentHash("black coffee"));
        Counted(await SearchAsync(), ["coffee with milk", "iced coffee"], 3);

        await Store.SweepAsync(past.AddHours(1), TimeSpan.FromMinutes(1));
        Counted(await SearchAsync(), ["iced coffee"], 1);

        await Store.DeleteUserAsync(user);
        Counted(await SearchAsync(), [], 0);
    }

    [ConditionalFact]
    public virtual async Task Lexical_matches_carry_each_terms_count_and_the_memorys_length()
    {
        var user = NewUser();
        await Store.CommitAsync(user, new() { ArchiveAdds = [Item("coffee, coffee and more coffee"), Item("tea at noon"), Item("coffee at noon")] });
        var terms = LexicalTerms.ForQuery("coffee noon");

        var matches = await Store.FindLexicalMatchesAsync(user, terms);

        Assert.Equal(3, matches.Documents);
        Assert.True(matches.Complete);
        Assert.Equal((5 + 3 + 3) / 3.0, matches.AverageLength, 6);
        var coffee = matches.Terms.Single(t => t.Term == terms[0]);
        var counts = coffee.Documents.Select((d, j) => (matches.Ids[d], coffee.Frequencies[j])).OrderBy(x => x.Item2).ToList();
        Assert.Equal([(LexicalTerms.ContentHash("coffee at noon"), 1), (LexicalTerms.ContentHash("coffee, coffee and more coffee"), 3)], counts);
        Assert.Equal(2, matches.Terms.Single(t => t.Term == terms[1]).DocumentFrequency);
    }

    [ConditionalFact]
    public virtual async Task A_short_memory_that_matches_strongly_beats_long_ones_sharing_more_query_words()
    {
        // The typical miss: a short user turn pushed out by long turns that share more words
        // with the question. Counting query words (or summing their weights) without length picks the
        // long ones; BM25 picks the short one.
        var user = NewUser();
        var filler = string.Join(' ', Enumerable.Range(0, 50).Select(i => $"word{i}"));
        await Store.CommitAsync(user, new()
        {
            ArchiveAdds =
            [
                Item("Listening to Spotify lately"),
                .. Enumerable.Range(0, 5).Select(i => Item($"Assistant: {filler} listening lately and recommendations on spotify playlists #{i}")),
                .. Enumerable.Range(0, 30).Select(i => Item($"unrelated note number {i} about the garden")),
            ],
        });

        var best = await Store.FindArchiveCandidatesAsync(user, LexicalTerms.ForQuery("What have I been listening to on Spotify lately, any playlists?"), null, 1);

        Assert.Equal("Listening to Spotify lately", Assert.Single(best).Item.Content);
    }

    [ConditionalFact]
    public virtual async Task Of_two_opposite_supersessions_made_at_once_only_the_first_lands()
    {
        // Two requests read both memories current, and each supersedes the other by it: the second
        // finds its replacement superseded already, so it is skipped and no cycle leaves neither current.
        var user = NewUser();
        var (beijing, shanghai) = (Item("The user lives in Beijing"), Item("The user lives in Shanghai"));
        await Store.CommitAsync(user, new() { ArchiveAdds = [beijing, shanghai] });

        await Store.CommitAsync(user, new() { ArchiveSupersessions = [new(shanghai.Id, T0.AddMinutes(1), beijing.Id) { RequireCurrentReplacement = true }] });
        await Store.CommitAsync(user, new() { ArchiveSupersessions = [new(beijing.Id, T0.AddMinutes(1), shanghai.Id) { RequireCurrentReplacement = true }] });

        Assert.Null((await Store.GetArchiveItemAsync(user, beijing.Id))!.SupersededAt);
        Assert.Equal(beijing.Id, (await Store.GetArchiveItemAsync(user, shanghai.Id))!.SupersededBy);
    }

    [ConditionalFact]
    public virtual async Task Memories_that_match_equally_are_cut_and_ordered_by_id_on_every_store()
    {
        // Eighty memories of one moment that every search scores alike: which ten come back must not
        // depend on the order a store lists its matches in.
        var user = NewUser();
        var items = Enumerable.Range(0, 80).Select(i => Item($"kiln batch q{i:D3}")).ToList();
        await Store.CommitAsync(user, new() { ArchiveAdds = items });

        var found = await Engine(new FakeTimeProvider(T0)).SearchArchiveAsync(user, "kiln", 10);

        Assert.Equal(items.Select(i => i.Id).Order(StringComparer.Ordinal).Take(10), found.Select(f => f.Item.Id));
    }

    [ConditionalFact]
    public virtual async Task A_long_question_is_looked_up_by_its_last_words_too()
    {
        // The question proper after a hundred words of chatter, as people write to a chat agent.
        var user = NewUser();
        await Store.CommitAsync(user, new() { ArchiveAdds = [Item("The user bought a xylophone"), Item("an unrelated memory")] });
        var chatter = string.Join(' ', Enumerable.Range(0, 100).Select(i => $"chatter{i}"));

        var found = await Store.FindArchiveCandidatesAsync(user, LexicalTerms.ForQuery($"{chatter} so what did I buy, a xylophone?"), null, 5);

        Assert.Equal("The user bought a xylophone", Assert.Single(found).Item.Content);
    }

    [ConditionalFact]
    public virtual async Task An_old_memory_matching_every_query_word_is_found_among_many_newer_partial_matches()
    {
        // More than two thousand newer memories hold each query word, none all three: a search that
        // reads only each word's newest postings never sees the old one.
        var user = NewUser();
        await Store.CommitAsync(user, new() { ArchiveAdds = [Item("Priya from Mumbai helps with the Falcon project", created: T0.AddYears(-3))] });
        string[] pairs = ["Priya from Mumbai", "Mumbai falcon", "Priya falcon"];
        var newer = Enumerable.Range(0, 3_003).Select(i => Item($"{pairs[i % 3]} note {i}", created: T0.AddMinutes(i))).ToList();
        for (var start = 0; start < newer.Count; start += 1_000)
            await Store.CommitAsync(user, new() { ArchiveAdds = newer.Skip(start).Take(1_000).ToList() });

        var best = await Store.FindArchiveCandidatesAsync(user, LexicalTerms.ForQuery("Priya Mumbai Falcon"), null, 5);

        Assert.Equal("Priya from Mumbai helps with the Falcon project", best.OrderByDescending(c => c.LexicalScore).First().Item.Content);
    }

    [ConditionalFact]
    public virtual async Task Users_are_listed_by_prefix_in_id_order_page_by_page_whatever_they_hold()
    {
        var prefix = "lu-" + Guid.NewGuid().ToString("N")[..8] + "-";
        var now = T0.AddDays(1);
        await Store.CommitAsync(prefix + "c", new() { Core = Core("only core", null) });
        await Store.CommitAsync(prefix + "a", new() { ArchiveAdds = [Item("an archive memory", created: now), Item("another one", created: now.AddMinutes(1))] });
        await Store.CommitAsync(prefix + "b", new() { Messages = [new("m1", "default", "t1", "user", "only a message", now.AddMinutes(2))] });
        await Store.CommitAsync(prefix + "d", new() { Session = new("s", "only a session", null, null) });
        await Store.CommitAsync(prefix[..^1] + "x", new() { Core = Core("another prefix", null) });

        var first = await Store.ListUsersAsync(prefix, 3, null);
        var second = await Store.ListUsersAsync(prefix, 3, first.ContinuationToken);

        Assert.Equal([prefix + "a", prefix + "b", prefix + "c"], first.Items.Select(u => u.UserId));
        Assert.NotNull(first.ContinuationToken);
        Assert.Equal([prefix + "d"], second.Items.Select(u => u.UserId));
        Assert.Null(second.ContinuationToken);
        // What a store says beyond the id, it says right.
        var a = first.Items[0];
        if (a.ArchiveItems is { } count) Assert.Equal(2, count);
        if (a.LastActivity is { } last) Assert.Equal(now.AddMinutes(1), last);
        if (first.Items[1].LastActivity is { } messaged) Assert.Equal(now.AddMinutes(2), messaged);

        await Store.DeleteUserAsync(prefix + "b");
        Assert.Equal([prefix + "a", prefix + "c", prefix + "d"], (await Store.ListUsersAsync(prefix, 10, null)).Items.Select(u => u.UserId));
        Assert.Empty((await Store.ListUsersAsync(prefix + "zz", 10, null)).Items);
    }

    [ConditionalFact]
    public virtual async Task Deleting_a_user_removes_every_document()
    {
        var (user, other) = (NewUser(), NewUser());
        foreach (var u in new[] { user, other })
            await Store.CommitAsync(u, new()
            {
                Core = Core("x", null),
                ArchiveAdds = [Item("a memory")],
                Messages = [new("m-" + u, "default", "t", "user", "hello", T0)],
                Session = new("default", "summary", T0, null),
            });

        await Store.DeleteUserAsync(user);

        Assert.Null(await Store.GetCoreAsync(user));
        Assert.Empty((await Store.ListArchiveAsync(user, 10, null)).Items);
        Assert.Empty((await Store.ListMessagesAsync(user, null, 10, null)).Items);
        Assert.Null(await Store.GetSessionAsync(user, "default"));
        Assert.NotNull(await Store.GetCoreAsync(other));
        Assert.Single((await Store.ListArchiveAsync(other, 10, null)).Items);
    }

    [ConditionalFact]
    public virtual async Task The_sweep_forgets_what_is_due_and_nothing_else_and_can_run_again()
    {
        var (a, b) = (NewUser(), NewUser());
        var past = new DateTimeOffset(2001, 1, 1, 0, 0, 0, TimeSpan.Zero);
        await Store.CommitAsync(a, new() { ArchiveAdds = [Item("due a", forgetAt: past.AddHours(-2)), Item("kept a", forgetAt: past.AddHours(2))] });
        await Store.CommitAsync(b, new() { ArchiveAdds = [Item("due b", forgetAt: past.AddHours(-1)), Item("identity b", MemoryType.Identity) with { ForgetAt = null }] });

        var first = await Store.SweepAsync(past, TimeSpan.FromMinutes(1));
        var again = await Store.SweepAsync(past, TimeSpan.FromMinutes(1));

        Assert.Equal((2, 2, 2), (first.Scanned, first.Forgotten, first.Users));
        Assert.Equal(0, again.Forgotten);
        Assert.Equal(["kept a"], (await Store.ListArchiveAsync(a, 10, null)).Items.Select(i => i.Content));
        Assert.Equal(["identity b"], (await Store.ListArchiveAsync(b, 10, null)).Items.Select(i => i.Content));
        Assert.Empty((await Store.FindArchiveCandidatesAsync(a, ["due"], null, 10)));
    }

    [ConditionalFact]
    public virtual async Task A_commit_names_the_adds_it_skipped_because_their_id_was_taken()
    {
        var user = NewUser();
        await Store.CommitAsync(user, new() { ArchiveAdds = [Item("likes Python")] });

        var result = await Store.CommitAsync(user, new() { ArchiveAdds = [Item("likes Python") with { Importance = 0.9 }, Item("likes tea")] });

        Assert.Equal([LexicalTerms.ContentHash("likes Python")], result.SkippedArchiveIds);
        Assert.Equal(2, (await Store.ListArchiveAsync(user, 10, null)).Items.Count);
    }

    [ConditionalFact]
    public virtual async Task A_renewal_replaces_a_forgotten_item_once_and_adds_one_that_is_gone()
    {
        var user = NewUser();
        var stale = Item("had a coffee", MemoryType.Trivial, forgetAt: T0.AddHours(-1), embedding: [1, 0, 0]);
        await Store.CommitAsync(user, new() { ArchiveAdds = [stale] });
        var renewed = Item("Had a coffee", MemoryType.Identity, created: T0.AddHours(1), embedding: [0, 1, 0]) with { ForgetAt = null, Importance = 1 };

        var first = await Store.CommitAsync(user, new() { ArchiveRenewals = [new(renewed, T0)] });
        var second = await Store.CommitAsync(user, new() { ArchiveRenewals = [new(renewed with { Importance = 0.2 }, T0)] });
        var fresh = await Store.CommitAsync(user, new() { ArchiveRenewals = [new(Item("never stored"), T0)] });

        Assert.Empty(first.SkippedArchiveIds);
        Assert.Equal([stale.Id], second.SkippedArchiveIds);
        Assert.Empty(fresh.SkippedArchiveIds);
        var read = (await Store.GetArchiveItemAsync(user, stale.Id))!;
        Assert.Equal(renewed with { Embedding = null }, read with { Metadata = renewed.Metadata });
        Assert.Equal(["Had a coffee"], (await Store.FindArchiveCandidatesAsync(user, LexicalTerms.ForQuery("coffee"), null, 5)).Select(c => c.Item.Content));
        Assert.Equal("Had a coffee", (await Store.FindArchiveCandidatesAsync(user, [], new float[] { 0, 1, 0 }, 1)).Single().Item.Content);
        Assert.True((await Store.FindArchiveCandidatesAsync(user, [], new float[] { 0, 1, 0 }, 1)).Single().VectorSimilarity > 0.99);
        Assert.NotNull(await Store.GetArchiveItemAsync(user, LexicalTerms.ContentHash("never stored")));
    }

    [ConditionalFact]
    public virtual async Task A_superseded_item_keeps_its_content_and_says_when_and_by_what()
    {
        var user = NewUser();
        var old = Item("lives in Beijing");
        var current = Item("moved to Shanghai");
        await Store.CommitAsync(user, new() { ArchiveAdds = [old, current] });

        await Store.CommitAsync(user, new() { ArchiveSupersessions = [new(old.Id, T0.AddDays(1), current.Id)] });
        await Store.CommitAsync(user, new() { ArchiveSupersessions = [new(old.Id, T0.AddDays(2), "another"), new("absent", T0, null)] });

        var read = (await Store.GetArchiveItemAsync(user, old.Id))!;
        Assert.Equal(("lives in Beijing", T0.AddDays(1), current.Id), (read.Content, read.SupersededAt, read.SupersededBy));
        Assert.Null((await Store.GetArchiveItemAsync(user, current.Id))!.SupersededAt);
        Assert.Equal(T0.AddDays(1), Assert.Single((await Store.FindArchiveCandidatesAsync(user, LexicalTerms.ForQuery("beijing"), null, 5))).Item.SupersededAt);
        Assert.Equal(current.Id, (await Store.ListArchiveAsync(user, 10, null)).Items.Single(i => i.Id == old.Id).SupersededBy);
    }

    [ConditionalFact]
    public virtual async Task An_item_stored_without_a_vector_is_found_by_vector_once_backfilled()
    {
        var user = NewUser();
        var outage = Item("stored during an embedding outage");
        await Store.CommitAsync(user, new() { ArchiveAdds = [outage, Item("east", embedding: [0, 1, 0])] });
        // A vector search first: the store's vector index (SQLite's in-memory cache) is built without the item.
        Assert.DoesNotContain(outage.Id, (await Store.FindArchiveCandidatesAsync(user, [], new float[] { 1, 0, 0 }, 5)).Select(c => c.Item.Id));

        var pending = Assert.Single(await Store.FindArchiveItemsWithoutVectorAsync(user, T0, 10));
        var written = await Store.SetArchiveVectorAsync(pending, new float[] { 1, 0, 0 }, T0);

        Assert.Equal((user, outage.Id, outage.Content, true), (pending.UserId, pending.Id, pending.Content, written));
        var nearest = (await Store.FindArchiveCandidatesAsync(user, [], new float[] { 1, 0.1f, 0 }, 1)).Single();
        Assert.Equal(outage.Id, nearest.Item.Id);
        Assert.True(nearest.VectorSimilarity > 0.99);
        Assert.Empty(await Store.FindArchiveItemsWithoutVectorAsync(user, T0, 10));
        Assert.Equal(outage with { Embedding = null }, (await Store.GetArchiveItemAsync(user, outage.Id))! with { Metadata = outage.Metadata });
    }

    [ConditionalFact]
    public virtual async Task A_backfilled_vector_never_revives_a_deleted_or_forgotten_item_nor_undoes_a_supersession()
    {
        var user = NewUser();
        var (deleted, forgotten, superseded) = (Item("deleted meanwhile"), Item("forgotten meanwhile", forgetAt: T0.AddHours(1)), Item("superseded meanwhile"));
        await Store.CommitAsync(user, new() { ArchiveAdds = [deleted, forgotten, superseded] });
        var pending = (await Store.FindArchiveItemsWithoutVectorAsync(user, T0, 10)).ToDictionary(p => p.Id);
        Assert.Equal(3, pending.Count);

        await Store.CommitAsync(user, new() { ArchiveDeletes = [deleted.Id], ArchiveSupersessions = [new(superseded.Id, T0.AddMinutes(1), null)] });
        var later = T0.AddHours(2); // forgotten's forgetAt has passed
        var wroteDeleted = await Store.SetArchiveVectorAsync(pending[deleted.Id], new float[] { 1, 0, 0 }, later);
        var wroteForgotten = await Store.SetArchiveVectorAsync(pending[forgotten.Id], new float[] { 1, 0, 0 }, later);
        await Store.SetArchiveVectorAsync(pending[superseded.Id], new float[] { 1, 0, 0 }, later);

        Assert.False(wroteDeleted);
        Assert.False(wroteForgotten);
        Assert.Null(await Store.GetArchiveItemAsync(user, deleted.Id));
        Assert.Equal(T0.AddHours(1), (await Store.GetArchiveItemAsync(user, forgotten.Id))!.ForgetAt);
        Assert.Equal(T0.AddMinutes(1), (await Store.GetArchiveItemAsync(user, superseded.Id))!.SupersededAt);
        Assert.DoesNotContain(forgotten.Id, (await Store.FindArchiveItemsWithoutVectorAsync(user, later, 10)).Select(p => p.Id));
    }

    [ConditionalFact]
    public virtual async Task A_restated_memory_is_current_again_and_what_replaced_it_is_history_each_interval_kept()
    {
        var user = NewUser();
        var (t1, t2) = (T0.AddDays(1), T0.AddDays(2));
        var said = t2.AddHours(-1);
        var beijing = Item("lives in Beijing");
        var shanghai = Item("lives in Shanghai", created: t1);
        await Store.CommitAsync(user, new() { ArchiveAdds = [beijing, shanghai] });
        await Store.CommitAsync(user, new() { ArchiveSupersessions = [new(beijing.Id, t1, shanghai.Id) { History = [new(T0, t1, shanghai.Id)], Since = T0 }] });

        // Beijing again, said an hour before it entered memory: true from then, entered at t2, its
        // first period kept; Shanghai ends then, replaced by Beijing.
        var restated = await Store.CommitAsync(user, new()
        {
            ArchiveRestatements = [new(beijing.Id, said, t2, t1, T0.AddYears(50), [new(T0, t1, shanghai.Id)])],
            ArchiveSupersessions = [new(shanghai.Id, said, beijing.Id) { History = [new(t1, said, beijing.Id)], Since = t1 }],
        });
        // Stale writes, made from what was read before: each is skipped, and the restatement reported so.
        var stale = await Store.CommitAsync(user, new()
        {
            ArchiveRestatements = [new(beijing.Id, t2.AddHours(1), t2.AddHours(1), t1, null, [])],
            ArchiveSupersessions = [new(beijing.Id, t2.AddHours(1), shanghai.Id) { History = [new(T0, t2.AddHours(1), shanghai.Id)], Since = T0 }],
        });

        var readBeijing = (await Store.GetArchiveItemAsync(user, beijing.Id))!;
        var readShanghai = (await Store.GetArchiveItemAsync(user, shanghai.Id))!;
        Assert.Empty(restated.SkippedArchiveIds);
        Assert.Equal([beijing.Id], stale.SkippedArchiveIds);
        Assert.Equal((null, null, said, t2, t2, T0.AddYears(50)),
            (readBeijing.SupersededAt, readBeijing.SupersededBy, readBeijing.CreatedAt, readBeijing.EnteredAt, readBeijing.LastAccessedAt, readBeijing.ForgetAt));
        Assert.Equal([new ArchiveInterval(T0, t1, shanghai.Id)], readBeijing.Intervals);
        Assert.Equal((said, beijing.Id), (readShanghai.SupersededAt, readShanghai.SupersededBy));
        Assert.Equal([new ArchiveInterval(t1, said, beijing.Id)], readShanghai.Intervals);
        var found = (await Store.FindArchiveCandidatesAsync(user, LexicalTerms.ForQuery("Beijing"), null, 5)).Single(c => c.Item.Id == beijing.Id).Item;
        Assert.Equal((null, 1), (found.SupersededAt, found.Intervals.Count));
        Assert.Single((await Store.ListArchiveAsync(user, 10, null)).Items.Single(i => i.Id == shanghai.Id).Intervals);
    }

    [ConditionalFact]
    public virtual async Task A_renewed_memory_keeps_no_history_of_the_forgotten_one()
    {
        var user = NewUser();
        var old = Item("lives in Beijing", forgetAt: T0.AddDays(3));
        await Store.CommitAsync(user, new() { ArchiveAdds = [old] });
        await Store.CommitAsync(user, new() { ArchiveSupersessions = [new(old.Id, T0.AddDays(1), "replacement") { History = [new(T0, T0.AddDays(1), "replacement")], Since = T0 }] });

        var renewed = Item("lives in Beijing", created: T0.AddDays(5));
        await Store.CommitAsync(user, new() { ArchiveRenewals = [new(renewed, T0.AddDays(5))] });

        var read = (await Store.GetArchiveItemAsync(user, old.Id))!;
        Assert.Equal((null, null, T0.AddDays(5)), (read.SupersededAt, read.History, read.EnteredAt));
        Assert.Empty(read.Intervals);
    }

    [ConditionalFact]
    public virtual async Task A_memory_superseded_before_history_was_kept_reads_with_its_one_interval()
    {
        var user = NewUser();
        var old = Item("lives in Beijing");
        await Store.CommitAsync(user, new() { ArchiveAdds = [old] });
        await Store.CommitAsync(user, new() { ArchiveSupersessions = [new(old.Id, T0.AddDays(1), "replacement")] });

        var read = (await Store.GetArchiveItemAsync(user, old.Id))!;

        Assert.Null(read.History);
        Assert.Equal([new ArchiveInterval(T0, T0.AddDays(1), "replacement")], read.Intervals);
    }

    /// <summary>The engine over this store, on a clock of its own.</summary>
    protected MemoryEngine Engine(TimeProvider time) => new(Store, Options.Create(new DecayOptions()), Options.Create(new MemoryLimits()),
        Options.Create(new SearchOptions()), time, NullLogger<MemoryEngine>.Instance);

    /// <summary>What a chat turn does with memory, without the chat: recall for the message, apply the scripted extraction, commit.</summary>
    private static async Task ExtractAsync(MemoryEngine engine, string user, string message, Func<IReadOnlyList<ScoredItem>, JsonObject> extracted)
    {
        var work = engine.Begin(user);
        var shown = await work.SearchArchiveAsync(message, 5);
        await MemoryExtraction.ApplyAsync(work, extracted(shown).ToJsonString(), new ExtractionRules([], 10) { Shown = shown.ToDictionary(s => s.Item.Id) }, CancellationToken.None);
        await work.CommitAsync();
    }

    private static JsonObject Moved(string line, string? replaces, string memory, IEnumerable<string> supersedes) => new()
    {
        ["core"] = new JsonArray(new JsonObject { ["label"] = "human", ["line"] = line, ["replaces"] = replaces }),
        ["remove"] = new JsonArray(),
        ["archive"] = new JsonArray(new JsonObject
        {
            ["content"] = memory, ["type"] = "fact", ["importance"] = 0.8, ["subject"] = "home city",
            ["supersedes"] = new JsonArray([.. supersedes.Select(s => (JsonNode)s)]),
        }),
    };

    private static IEnumerable<string> Shown(IReadOnlyList<ScoredItem> shown, string city) =>
        shown.Where(s => s.Item.Content.Contains(city, StringComparison.Ordinal)).Select(s => s.Item.Id);

    [ConditionalFact]
    public virtual async Task Beijing_then_Shanghai_then_Beijing_again_leaves_Beijing_current_in_core_and_in_the_archive()
    {
        var user = NewUser();
        var time = new FakeTimeProvider(T0);
        var engine = Engine(time);
        var (t1, t2) = (T0.AddDays(1), T0.AddDays(2));

        await ExtractAsync(engine, user, "I live in Beijing", _ => Moved("Lives in Beijing", null, "The user lives in Beijing", []));
        time.SetUtcNow(t1);
        // Worded so that recall finds the earlier memory by its words: this engine has no embedding model.
        await ExtractAsync(engine, user, "I live in Shanghai now", shown => Moved("Lives in Shanghai", "Lives in Beijing", "The user lives in Shanghai", Shown(shown, "Beijing")));
        time.SetUtcNow(t2);
        await ExtractAsync(engine, user, "I live in Beijing again", shown => Moved("Lives in Beijing", "Lives in Shanghai", "The user lives in Beijing", Shown(shown, "Shanghai")));

        Assert.Equal("Lives in Beijing", (await engine.GetCoreAsync(user)).Find("human")!.Value);
        var current = await engine.SearchArchiveAsync(user, "where does the user live", 10);
        Assert.Equal(["Lives in Beijing", "The user lives in Beijing"], current.Select(s => s.Item.Content).Order(StringComparer.Ordinal));

        var id = (string content) => LexicalTerms.ContentHash(content);
        foreach (var (city, other) in new[] { ("The user lives in Beijing", "The user lives in Shanghai"), ("Lives in Beijing", "Lives in Shanghai") })
        {
            var beijing = (await Store.GetArchiveItemAsync(user, id(city)))!;
            var shanghai = (await Store.GetArchiveItemAsync(user, id(other)))!;
            // Beijing: true from T0 to t1, and again from t2; Shanghai: true from t1 to t2, ended by Beijing.
            Assert.Equal((null, t2), (beijing.SupersededAt, beijing.CreatedAt));
            Assert.Equal([new ArchiveInterval(T0, t1, shanghai.Id)], beijing.Intervals);
            Assert.Equal((t2, beijing.Id), (shanghai.SupersededAt, shanghai.SupersededBy));
            Assert.Equal([new ArchiveInterval(t1, t2, beijing.Id)], shanghai.Intervals);
        }
        // No cycle: from every memory, what replaced it leads to a current one.
        foreach (var item in (await Store.ListArchiveAsync(user, 20, null)).Items)
        {
            var seen = new HashSet<string>();
            var at = item;
            while (at.SupersededBy is { } next && seen.Add(at.Id)) at = (await Store.GetArchiveItemAsync(user, next))!;
            Assert.Null(at.SupersededAt);
        }
    }

    [ConditionalFact]
    public virtual async Task A_restatement_through_a_plain_add_is_current_again_and_retires_what_replaced_it()
    {
        var user = NewUser();
        var time = new FakeTimeProvider(T0);
        var engine = Engine(time);
        var (beijing, _) = await engine.AddArchiveAsync(user, new NewMemory("The user lives in Beijing", MemoryType.Fact, 0.8));
        time.SetUtcNow(T0.AddDays(1));
        var (shanghai, _) = await engine.AddArchiveAsync(user, new NewMemory("The user lives in Shanghai", MemoryType.Fact, 0.8), [beijing.Id]);
        time.SetUtcNow(T0.AddDays(2));

        // Said three hours before it is posted: true again from then, in memory again from now.
        var said = T0.AddDays(2).AddHours(-3);
        var (restated, created) = await engine.AddArchiveAsync(user, new NewMemory("the user lives in beijing", CreatedAt: said), [shanghai.Id]);
        // The same again changes nothing more.
        time.SetUtcNow(T0.AddDays(3));
        var (again, _) = await engine.AddArchiveAsync(user, new NewMemory("The user lives in Beijing"));

        Assert.False(created);
        Assert.Equal((beijing.Id, null, said, T0.AddDays(2)), (restated.Id, restated.SupersededAt, restated.CreatedAt, restated.EnteredAt));
        Assert.Equal((said, T0.AddDays(2)), (again.CreatedAt, again.EnteredAt));
        var stored = (await Store.GetArchiveItemAsync(user, beijing.Id))!;
        Assert.Equal((said, T0.AddDays(2), restated.ForgetAt), (stored.CreatedAt, stored.EnteredAt, stored.ForgetAt));
        // Decay runs from its new entry: it is forgotten when a fact entered then would be.
        Assert.Equal(Truncated(new DecayModel(new DecayOptions()).ForgetAt(stored)), stored.ForgetAt);
        Assert.True(stored.ForgetAt > beijing.ForgetAt);
        Assert.Equal([new ArchiveInterval(T0, T0.AddDays(1), shanghai.Id)], stored.Intervals);
        var retired = (await Store.GetArchiveItemAsync(user, shanghai.Id))!;
        Assert.Equal((said, beijing.Id), (retired.SupersededAt, retired.SupersededBy));
        Assert.Equal([new ArchiveInterval(T0.AddDays(1), said, beijing.Id)], retired.Intervals);
        Assert.Equal(["The user lives in Beijing"], (await engine.SearchArchiveAsync(user, "lives", 5)).Select(s => s.Item.Content));
    }

    private static DateTimeOffset? Truncated(DateTimeOffset? time) => time?.AddTicks(-(time.Value.Ticks % TimeSpan.TicksPerMillisecond));

    [ConditionalFact]
    public virtual async Task An_add_that_supersedes_what_is_not_current_is_refused_and_writes_nothing()
    {
        var user = NewUser();
        var time = new FakeTimeProvider(T0);
        var engine = Engine(time);
        var (beijing, _) = await engine.AddArchiveAsync(user, new NewMemory("The user lives in Beijing"));
        var (shanghai, _) = await engine.AddArchiveAsync(user, new NewMemory("The user lives in Shanghai"), [beijing.Id]);

        var gone = await Assert.ThrowsAsync<MemoryValidationException>(() => engine.AddArchiveAsync(user, new NewMemory("The user lives in Tokyo"), [new string('0', 32)]));
        var history = await Assert.ThrowsAsync<MemoryValidationException>(() => engine.AddArchiveAsync(user, new NewMemory("The user lives in Tokyo"), [beijing.Id]));
        var itself = await Assert.ThrowsAsync<MemoryValidationException>(() => engine.AddArchiveAsync(user, new NewMemory("The user lives in Shanghai"), [shanghai.Id]));

        Assert.All(new[] { gone, history, itself }, e => Assert.Equal("supersedes", e.Field));
        Assert.Null(await Store.GetArchiveItemAsync(user, LexicalTerms.ContentHash("The user lives in Tokyo")));
        Assert.Null((await Store.GetArchiveItemAsync(user, shanghai.Id))!.SupersededAt);
        Assert.Equal(shanghai.Id, (await Store.GetArchiveItemAsync(user, beijing.Id))!.SupersededBy);
    }

    [ConditionalFact]
    public virtual async Task A_restatement_said_now_is_true_from_the_instant_it_enters_memory()
    {
        var user = NewUser();
        var time = new FakeTimeProvider(T0);
        var engine = Engine(time);
        var (beijing, _) = await engine.AddArchiveAsync(user, new NewMemory("The user lives in Beijing"));
        time.SetUtcNow(T0.AddDays(1));
        var (shanghai, _) = await engine.AddArchiveAsync(user, new NewMemory("The user lives in Shanghai"), [beijing.Id]);
        time.SetUtcNow(T0.AddDays(2));
        // A clock that moves on every read, as a real one does between two reads in one request.
        time.AutoAdvanceAmount = TimeSpan.FromMilliseconds(1);

        var (restated, _) = await engine.AddArchiveAsync(user, new NewMemory("The user lives in Beijing"), [shanghai.Id]);

        Assert.Equal(restated.CreatedAt, restated.EnteredAt);
        Assert.Equal(restated.CreatedAt, (await Store.GetArchiveItemAsync(user, shanghai.Id))!.SupersededAt);
    }

    [ConditionalFact]
    public virtual async Task Two_restatements_of_the_same_fact_at_once_leave_it_current_once_with_each_period_once()
    {
        var user = NewUser();
        var time = new FakeTimeProvider(T0);
        var engine = Engine(time);
        var (beijing, _) = await engine.AddArchiveAsync(user, new NewMemory("The user lives in Beijing"));
        time.SetUtcNow(T0.AddDays(1));
        var (shanghai, _) = await engine.AddArchiveAsync(user, new NewMemory("The user lives in Shanghai"), [beijing.Id]);
        time.SetUtcNow(T0.AddDays(2));

        // Both read Beijing superseded before either writes.
        var first = engine.Begin(user);
        var second = engine.Begin(user);
        await first.AddArchiveAsync(new NewMemory("The user lives in Beijing"));
        time.Advance(TimeSpan.FromMinutes(1));
        await second.AddArchiveAsync(new NewMemory("The user lives in Beijing"));
        second.AddMessage("user", "I live in Beijing again", "turn-2");
        await first.CommitAsync();
        await second.CommitAsync();

        var stored = (await Store.GetArchiveItemAsync(user, beijing.Id))!;
        var retired = (await Store.GetArchiveItemAsync(user, shanghai.Id))!;
        // The first restatement wins; the second is skipped (its other writes are not), and sees the first.
        Assert.Equal((null, T0.AddDays(2)), (stored.SupersededAt, stored.CreatedAt));
        Assert.Equal([new ArchiveInterval(T0, T0.AddDays(1), shanghai.Id)], stored.Intervals);
        Assert.Equal((T0.AddDays(2), beijing.Id), (retired.SupersededAt, retired.SupersededBy));
        Assert.Equal([new ArchiveInterval(T0.AddDays(1), T0.AddDays(2), beijing.Id)], retired.Intervals);
        Assert.Equal(T0.AddDays(2), second.SkippedAdds[beijing.Id]!.CreatedAt);
        Assert.Contains((await Store.ListMessagesAsync(user, null, 10, null)).Items, m => m.Content == "I live in Beijing again");
        Assert.Equal(["The user lives in Beijing"], (await engine.SearchArchiveAsync(user, "lives", 5)).Select(s => s.Item.Content));
    }

    [ConditionalFact]
    public virtual async Task Crossed_restatements_of_two_facts_at_once_form_no_cycle()
    {
        var user = NewUser();
        var time = new FakeTimeProvider(T0);
        var engine = Engine(time);
        var (beijing, _) = await engine.AddArchiveAsync(user, new NewMemory("The user lives in Beijing"));
        time.SetUtcNow(T0.AddDays(1));
        var (shanghai, _) = await engine.AddArchiveAsync(user, new NewMemory("The user lives in Shanghai"), [beijing.Id]);
        time.SetUtcNow(T0.AddDays(2));
        var (tokyo, _) = await engine.AddArchiveAsync(user, new NewMemory("The user lives in Tokyo"), [shanghai.Id]);
        time.SetUtcNow(T0.AddDays(3));

        // Beijing and Shanghai stated again at once: each would retire Tokyo, the end of their chain.
        var first = engine.Begin(user);
        var second = engine.Begin(user);
        await first.AddArchiveAsync(new NewMemory("The user lives in Beijing"));
        await second.AddArchiveAsync(new NewMemory("The user lives in Shanghai"));
        await first.CommitAsync();
        await second.CommitAsync();

        var items = (await Store.ListArchiveAsync(user, 10, null)).Items;
        Assert.Equal(3, items.Count);
        foreach (var item in items)
        {
            var seen = new HashSet<string>();
            var at = item;
            while (at.SupersededBy is { } next && seen.Add(at.Id)) at = (await Store.GetArchiveItemAsync(user, next))!;
            Assert.Null(at.SupersededAt);
        }
        Assert.Equal(beijing.Id, items.Single(i => i.Id == tokyo.Id).SupersededBy);
    }
}
