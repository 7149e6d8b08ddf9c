using System.Net;
using System.Text.Json;
using Microsoft.Azure.Cosmos;
using ServerlessMemory.Core;
using ServerlessMemory.Cosmos;

namespace ServerlessMemory.Tests.Cosmos;

/// <summary>
/// What the Cosmos store writes, against the local <c>@vercel/cosmosdb-server</c>: each operation a
/// commit's transactional batch carries, run on its own (the documents it writes, ETag conflicts,
/// patches and deletes), and the batches themselves: one per change set, atomic, cut at 100 operations.
/// </summary>
[Collection(LocalCosmosCollection.Name)]
public sealed class CosmosPointOperationTests(LocalCosmosServer server)
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 8, 0, 0, TimeSpan.Zero);

    private CosmosMemoryStore Store => server.Store;

    private static string NewUser() => "u-" + Guid.NewGuid().ToString("N")[..12];

    private static CoreMemory Core(string human, string? etag) =>
        CoreMemory.CreateDefault(2000).With(new MemoryBlock("human", human, 2000, "who")) with { ETag = etag };

    private static ArchiveItem Item(string content, DateTimeOffset? forgetAt = null) => new()
    {
        Id = LexicalTerms.ContentHash(content),
        Content = content,
        Type = MemoryType.Preference,
        Importance = 0.7,
        CreatedAt = T0,
        EnteredAt = T0,
        LastAccessedAt = T0,
        Metadata = new Dictionary<string, string> { ["source"] = "test" },
        Embedding = new float[] { 0.5f, 0.25f, 1 },
        ForgetAt = forgetAt ?? T0.AddDays(30),
    };

    private async Task<JsonElement> RawAsync(string user, string documentId)
    {
        var container = await Store.ContainerAsync();
        using var response = await container.ReadItemStreamAsync(documentId, new PartitionKey(user));
        response.EnsureSuccessStatusCode();
        return (await JsonDocument.ParseAsync(response.Content)).RootElement.Clone();
    }

    [LocalCosmosFact]
    public async Task A_new_user_has_no_core_memory()
    {
        Assert.Null(await Store.GetCoreAsync(NewUser()));
    }

    [LocalCosmosFact]
    public async Task Core_memory_is_created_then_replaced_with_if_match_and_each_write_changes_its_etag()
    {
        var user = NewUser();

        var created = await Store.ExecuteAsync(user, CosmosWrite.Core(user, Core("小明", null)));
        var replaced = await Store.ExecuteAsync(user, CosmosWrite.Core(user, Core("小明, data scientist", created.ETag)));
        var core = await Store.GetCoreAsync(user);

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal(HttpStatusCode.OK, replaced.StatusCode);
        Assert.NotNull(created.ETag);
        Assert.NotEqual(created.ETag, replaced.ETag);
        Assert.Equal(replaced.ETag, core!.ETag);
        Assert.Equal("小明, data scientist", core.Find("human")!.Value);
        Assert.Equal(CoreMemory.CreateDefault(2000).Blocks.Select(b => b.Label), core.Blocks.Select(b => b.Label));
        Assert.True(created.RequestCharge > 0);
    }

    [LocalCosmosFact]
    public async Task A_stale_etag_is_a_conflict_and_the_stored_core_stays()
    {
        var user = NewUser();
        var first = await Store.ExecuteAsync(user, CosmosWrite.Core(user, Core("one", null)));
        await Store.ExecuteAsync(user, CosmosWrite.Core(user, Core("two", first.ETag)));

        var conflict = await Assert.ThrowsAsync<MemoryConflictException>(() => Store.ExecuteAsync(user, CosmosWrite.Core(user, Core("three", first.ETag))));

        Assert.Equal("Core memory has changed since it was read.", conflict.Message);
        Assert.Equal("core", conflict.Document);
        Assert.Equal("two", (await Store.GetCoreAsync(user))!.Find("human")!.Value);
    }

    [LocalCosmosFact]
    public async Task Creating_core_memory_twice_is_a_conflict()
    {
        var user = NewUser();
        await Store.ExecuteAsync(user, CosmosWrite.Core(user, Core("one", null)));

        var conflict = await Assert.ThrowsAsync<MemoryConflictException>(() => Store.ExecuteAsync(user, CosmosWrite.Core(user, Core("two", null))));

        Assert.Equal("Core memory was created by another request.", conflict.Message);
        Assert.Equal("one", (await Store.GetCoreAsync(user))!.Find("human")!.Value);
    }

    [LocalCosmosFact]
    public async Task Replacing_core_memory_that_is_gone_is_a_conflict()
    {
        var user = NewUser();
        var created = await Store.ExecuteAsync(user, CosmosWrite.Core(user, Core("one", null)));
        await Store.ExecuteAsync(user, CosmosWrite.Delete(CoreDocument.DocumentId));

        await Assert.ThrowsAsync<MemoryConflictException>(() => Store.ExecuteAsync(user, CosmosWrite.Core(user, Core("two", created.ETag))));
    }

    [LocalCosmosFact]
    public async Task Core_documents_carry_explicit_names_and_no_ttl()
    {
        var user = NewUser();
        await Store.ExecuteAsync(user, CosmosWrite.Core(user, Core("小明", null)));

        var raw = await RawAsync(user, "core");

        Assert.Equal("core", raw.GetProperty("id").GetString());
        Assert.Equal(user, raw.GetProperty("userId").GetString());
        Assert.Equal("core", raw.GetProperty("type").GetString());
        Assert.Equal("小明", raw.GetProperty("blocks")[1].GetProperty("value").GetString());
        Assert.Equal(["label", "value", "limit", "description", "readOnly"], raw.GetProperty("blocks")[1].EnumerateObject().Select(p => p.Name));
        Assert.False(raw.TryGetProperty("ttl", out _));
        Assert.NotEqual(JsonValueKind.Undefined, raw.GetProperty("_etag").ValueKind);
    }

    [LocalCosmosFact]
    public async Task An_archive_item_round_trips_without_its_embedding_and_its_document_holds_the_terms()
    {
        var user = NewUser();
        var item = Item("当前项目是客户流失预测");

        await Store.ExecuteAsync(user, CosmosWrite.ArchiveCreate(user, item));
        var read = await Store.GetArchiveItemAsync(user, item.Id);
        var raw = await RawAsync(user, "archive:" + item.Id);

        Assert.Equal(item with { Embedding = null }, read! with { Metadata = item.Metadata });
        Assert.Equal("test", read.Metadata["source"]);
        Assert.Equal("archive", raw.GetProperty("type").GetString());
        Assert.Equal("preference", raw.GetProperty("memoryType").GetString());
        Assert.Equal("2026-03-31T08:00:00.0000000Z", raw.GetProperty("forgetAt").GetString());
        Assert.Equal(3, raw.GetProperty("embedding").GetArrayLength());
        Assert.Contains("项目", raw.GetProperty("terms").EnumerateArray().Select(t => t.GetString()));
        Assert.False(raw.TryGetProperty("ttl", out _));
        Assert.False(raw.TryGetProperty("similarity", out _));
    }

    [LocalCosmosFact]
    public async Task A_document_written_before_entered_at_was_kept_entered_memory_when_it_was_created()
    {
        var user = NewUser();
        var item = Item("lives in Beijing") with { CreatedAt = T0.AddDays(-2), EnteredAt = T0.AddDays(-2), LastAccessedAt = T0.AddDays(-2) };
        var container = await Store.ContainerAsync();
        var document = System.Text.Json.Nodes.JsonNode.Parse(CosmosJson.Serialize(ArchiveDocument.From(user, item)))!.AsObject();
        Assert.True(document.Remove("enteredAt"));

        using (var response = await container.CreateItemStreamAsync(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(document.ToJsonString())), new PartitionKey(user)))
            response.EnsureSuccessStatusCode();
        var read = await Store.GetArchiveItemAsync(user, item.Id);

        Assert.Equal(item with { Embedding = null }, read! with { Metadata = item.Metadata });
    }

    [LocalCosmosFact]
    public async Task A_memory_never_forgotten_has_no_forget_at()
    {
        var user = NewUser();
        var item = Item("我叫小明") with { Type = MemoryType.Identity, ForgetAt = null, Embedding = null };

        await Store.ExecuteAsync(user, CosmosWrite.ArchiveCreate(user, item));
        var raw = await RawAsync(user, "archive:" + item.Id);

        Assert.Null((await Store.GetArchiveItemAsync(user, item.Id))!.ForgetAt);
        Assert.False(raw.TryGetProperty("forgetAt", out _));
        Assert.False(raw.TryGetProperty("embedding", out _));
    }

    [LocalCosmosFact]
    public async Task Adding_the_same_memory_again_is_skipped_and_keeps_the_first()
    {
        var user = NewUser();
        await Store.ExecuteAsync(user, CosmosWrite.ArchiveCreate(user, Item("likes Python")));

        var again = await Store.ExecuteAsync(user, CosmosWrite.ArchiveCreate(user, Item("likes Python") with { Importance = 0.9 }));

        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.Equal(0.7, (await Store.GetArchiveItemAsync(user, Item("likes Python").Id))!.Importance);
    }

    [LocalCosmosFact]
    public async Task An_access_patch_increments_the_count_and_sets_last_accessed_and_forget_at()
    {
        var user = NewUser();
        var item = Item("prefers tea");
        await Store.ExecuteAsync(user, CosmosWrite.ArchiveCreate(user, item));

        await Store.ExecuteAsync(user, CosmosWrite.ArchiveAccess(new(item.Id, T0.AddHours(1), T0.AddDays(3))));
        await Store.ExecuteAsync(user, CosmosWrite.ArchiveAccess(new(item.Id, T0.AddHours(2), T0.AddDays(4))));

        var read = (await Store.GetArchiveItemAsync(user, item.Id))!;
        Assert.Equal(2, read.AccessCount);
        Assert.Equal(T0.AddHours(2), read.LastAccessedAt);
        Assert.Equal(T0.AddDays(4), read.ForgetAt);
        Assert.Equal(item.Content, read.Content);
    }

    [LocalCosmosFact]
    public async Task An_access_that_clears_forget_at_leaves_the_memory_out_of_the_sweep()
    {
        var user = NewUser();
        var item = Item("my name is Ming");
        await Store.ExecuteAsync(user, CosmosWrite.ArchiveCreate(user, item));

        await Store.ExecuteAsync(user, CosmosWrite.ArchiveAccess(new(item.Id, T0.AddHours(1), null)));

        Assert.Null((await Store.GetArchiveItemAsync(user, item.Id))!.ForgetAt);
        Assert.Equal(JsonValueKind.Null, (await RawAsync(user, "archive:" + item.Id)).GetProperty("forgetAt").ValueKind);
    }

    [LocalCosmosFact]
    public async Task An_access_to_a_memory_that_is_gone_is_skipped()
    {
        var user = NewUser();

        var result = await Store.ExecuteAsync(user, CosmosWrite.ArchiveAccess(new("no-such-memory", T0, T0.AddDays(1))));

        Assert.Equal(HttpStatusCode.NotFound, result.StatusCode);
        Assert.Null(await Store.GetArchiveItemAsync(user, "no-such-memory"));
    }

    [LocalCosmosFact]
    public async Task A_delete_removes_the_memory_and_deleting_it_again_is_skipped()
    {
        var user = NewUser();
        var item = Item("likes hiking");
        await Store.ExecuteAsync(user, CosmosWrite.ArchiveCreate(user, item));

        var deleted = await Store.ExecuteAsync(user, CosmosWrite.ArchiveDelete(item.Id));
        var again = await Store.ExecuteAsync(user, CosmosWrite.ArchiveDelete(item.Id));

        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
        Assert.Null(await Store.GetArchiveItemAsync(user, item.Id));
    }

    [LocalCosmosFact]
    public async Task Users_never_read_each_others_documents()
    {
        var (alice, bob) = (NewUser(), NewUser());
        var secret = Item("alice's secret project");
        await Store.ExecuteAsync(alice, CosmosWrite.ArchiveCreate(alice, secret));
        await Store.ExecuteAsync(alice, CosmosWrite.Core(alice, Core("alice", null)));

        Assert.Null(await Store.GetArchiveItemAsync(bob, secret.Id));
        Assert.Null(await Store.GetCoreAsync(bob));
        Assert.NotNull(await Store.GetArchiveItemAsync(alice, secret.Id));
    }

    [LocalCosmosFact]
    public async Task Session_summaries_are_written_with_optimistic_concurrency()
    {
        var user = NewUser();
        await Store.ExecuteAsync(user, CosmosWrite.Session(user, new("s1", "talked about churn", T0, null)));
        var stored = (await Store.GetSessionAsync(user, "s1"))!;

        await Store.ExecuteAsync(user, CosmosWrite.Session(user, stored with { Summary = "talked about churn and XGBoost" }));
        var conflict = await Assert.ThrowsAsync<MemoryConflictException>(() =>
            Store.ExecuteAsync(user, CosmosWrite.Session(user, stored with { Summary = "stale" })));
        var twice = await Assert.ThrowsAsync<MemoryConflictException>(() =>
            Store.ExecuteAsync(user, CosmosWrite.Session(user, new("s1", "created twice", null, null))));

        Assert.Equal("Session 's1' was changed by another request.", conflict.Message);
        Assert.Equal("session", conflict.Document);
        Assert.NotNull(twice);
        Assert.Equal(new SessionState("s1", "talked about churn", T0, stored.ETag), stored);
        Assert.Equal("talked about churn and XGBoost", (await Store.GetSessionAsync(user, "s1"))!.Summary);
        Assert.Null(await Store.GetSessionAsync(user, "s2"));
    }

    [LocalCosmosFact]
    public async Task A_message_is_created_once_and_a_second_create_is_skipped()
    {
        var user = NewUser();
        var message = new ConversationMessage("m1", "s1", "t1", "user", "我叫小明，是一名数据科学家", T0.AddTicks(1));

        var first = await Store.ExecuteAsync(user, CosmosWrite.MessageCreate(user, message));
        var again = await Store.ExecuteAsync(user, CosmosWrite.MessageCreate(user, message));
        var raw = await RawAsync(user, "message:m1");

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.Equal(["content", "createdAt", "id", "role", "sessionId", "terms", "turnId", "type", "userId"],
            raw.EnumerateObject().Select(p => p.Name).Where(n => !n.StartsWith('_')).Order(StringComparer.Ordinal));
        Assert.Equal("2026-03-01T08:00:00.0000001Z", raw.GetProperty("createdAt").GetString());
        Assert.Contains("科学", raw.GetProperty("terms").EnumerateArray().Select(t => t.GetString()));
    }

    [LocalCosmosFact]
    public async Task Commit_sends_the_whole_change_set_as_one_transactional_batch()
    {
        var user = NewUser();
        var before = server.Requests.Count;

        await Store.CommitAsync(user, new()
        {
            Core = Core("x", null),
            ArchiveAdds = [Item("a memory")],
            Messages = [new("m1", "default", "t", "user", "hello", T0)],
            Session = new("default", "summary", T0, null),
        });

        var batch = Assert.Single(server.Requests.Skip(before), r => r.Method != "GET");
        Assert.True(batch.IsBatch);
        Assert.Equal("POST", batch.Method);
        Assert.Equal("x", (await Store.GetCoreAsync(user))!.Find("human")!.Value);
        Assert.NotNull(await Store.GetSessionAsync(user, "default"));
        Assert.Single((await Store.ListMessagesAsync(user, null, 10, null)).Items);
    }

    [LocalCosmosFact]
    public async Task An_access_to_a_memory_gone_meanwhile_is_dropped_and_the_batch_sent_again_without_it()
    {
        var user = NewUser();
        var before = server.Requests.Count;

        await Store.CommitAsync(user, new()
        {
            ArchiveAdds = [Item("kept")],
            Accesses = [new("forgotten-meanwhile", T0, null)],
            Messages = [new("m1", "default", "t", "user", "hello", T0)],
        });

        Assert.Equal(2, server.Requests.Skip(before).Count(r => r.IsBatch));
        Assert.NotNull(await Store.GetArchiveItemAsync(user, Item("kept").Id));
        Assert.Single((await Store.ListMessagesAsync(user, null, 10, null)).Items);
    }

    [LocalCosmosFact]
    public async Task A_change_set_of_more_than_a_hundred_writes_is_cut_into_batches_that_all_land()
    {
        var user = NewUser();
        var before = server.Requests.Count;
        var items = Enumerable.Range(0, 230).Select(i => Item($"imported memory {i}")).ToList();

        await Store.CommitAsync(user, new() { Core = Core("bulk", null), ArchiveAdds = items });

        Assert.Equal(3, server.Requests.Skip(before).Count(r => r.IsBatch));
        var listed = new List<ArchiveItem>();
        string? token = null;
        do
        {
            var page = await Store.ListArchiveAsync(user, 100, token);
            listed.AddRange(page.Items);
            token = page.ContinuationToken;
        }
        while (token is not null);
        Assert.Equal(230, listed.Select(i => i.Id).Distinct().Count());
        Assert.Equal("bulk", (await Store.GetCoreAsync(user))!.Find("human")!.Value);
    }

    [LocalCosmosFact]
    public async Task A_conflict_in_the_first_batch_writes_nothing_of_a_large_change_set()
    {
        var user = NewUser();
        await Store.CommitAsync(user, new() { Core = Core("first", null) });

        await Assert.ThrowsAsync<MemoryConflictException>(() => Store.CommitAsync(user, new()
        {
            Core = Core("stale", null),
            ArchiveAdds = [.. Enumerable.Range(0, 150).Select(i => Item($"never written {i}"))],
        }));

        Assert.Equal("first", (await Store.GetCoreAsync(user))!.Find("human")!.Value);
        Assert.Empty((await Store.ListArchiveAsync(user, 10, null)).Items);
    }

    [LocalCosmosFact]
    public async Task A_commit_of_one_write_is_a_point_operation()
    {
        var user = NewUser();
        var before = server.Requests.Count;

        var etag = (await Store.CommitAsync(user, new() { Core = Core("小明", null) })).ETag;

        var write = Assert.Single(server.Requests.Skip(before), r => r.Method != "GET");
        Assert.False(write.IsBatch);
        Assert.Equal(etag, (await Store.GetCoreAsync(user))!.ETag);
        Assert.Equal("小明", (await Store.GetCoreAsync(user))!.Find("human")!.Value);
    }

    [LocalCosmosFact]
    public async Task A_query_sent_with_a_partition_key_reads_that_partition_only()
    {
        var (mine, theirs) = (NewUser(), NewUser());
        await Store.CommitAsync(mine, new() { ArchiveAdds = [Item("mine")] });
        await Store.CommitAsync(theirs, new() { ArchiveAdds = [Item("theirs")] });
        var container = await Store.ContainerAsync();

        // The query text would take both users' documents: the partition key keeps the other's out.
        var users = new List<string>();
        var text = new QueryDefinition("SELECT c.userId FROM c WHERE c.userId = @mine OR c.userId = @theirs")
            .WithParameter("@mine", mine).WithParameter("@theirs", theirs);
        using var query = container.GetItemQueryIterator<JsonElement>(text,
            requestOptions: new QueryRequestOptions { PartitionKey = new PartitionKey(mine) });
        while (query.HasMoreResults)
            users.AddRange((await query.ReadNextAsync()).Select(r => r.GetProperty("userId").GetString()!));

        Assert.NotEmpty(users);
        Assert.All(users, u => Assert.Equal(mine, u));
    }
}
