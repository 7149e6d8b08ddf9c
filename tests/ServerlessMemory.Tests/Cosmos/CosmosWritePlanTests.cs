using System.Net;
using System.Text.Json;
using Microsoft.Azure.Cosmos;
using ServerlessMemory.Core;
using ServerlessMemory.Cosmos;

namespace ServerlessMemory.Tests.Cosmos;

/// <summary>How a change set becomes batch operations, how batches are cut, and what the documents look like on the wire.</summary>
public sealed class CosmosWritePlanTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 8, 0, 0, TimeSpan.Zero);

    private static ArchiveItem Item(string content, int dimensions = 0) => new()
    {
        Id = LexicalTerms.ContentHash(content),
        Content = content,
        CreatedAt = T0,
        EnteredAt = T0,
        LastAccessedAt = T0,
        ForgetAt = T0.AddDays(10),
        Embedding = dimensions > 0 ? Enumerable.Range(0, dimensions).Select(i => 0.123456789f * i).ToArray() : (ReadOnlyMemory<float>?)null,
    };

    private static ConversationMessage Message(int i) => new($"m{i}", "s1", "t1", "user", $"message {i}", T0.AddTicks(i));

    [Fact]
    public void A_change_set_is_planned_with_the_writes_that_can_conflict_first()
    {
        var plan = CosmosWrite.Plan("u1", new()
        {
            Messages = [Message(1)],
            Accesses = [new("a", T0, null)],
            ArchiveAdds = [Item("new")],
            ArchiveDeletes = ["gone"],
            Session = new("s1", "summary", null, "\"v1\""),
            Core = CoreMemory.CreateDefault(100) with { ETag = "\"e1\"" },
        });

        Assert.Equal([WriteKind.Core, WriteKind.Session, WriteKind.Delete, WriteKind.ArchiveCreate, WriteKind.ArchiveAccess, WriteKind.MessageCreate],
            plan.Select(w => w.Kind));
        Assert.Equal(["core", "session:s1", "archive:gone", "archive:" + Item("new").Id, "archive:a", "message:m1"], plan.Select(w => w.DocumentId));
        Assert.Equal("\"e1\"", plan[0].IfMatch);
        Assert.Equal("\"v1\"", plan[1].IfMatch);
        Assert.False(plan[0].IsCreate);
        Assert.True(plan[0].CanConflict);
        Assert.True(plan[1].CanConflict);
        Assert.All(plan.Skip(2), w => Assert.False(w.CanConflict));
    }

    [Fact]
    public void Core_and_sessions_without_an_etag_are_created()
    {
        var plan = CosmosWrite.Plan("u1", new() { Core = CoreMemory.CreateDefault(100), Session = new("s1", "summary", null, null) });

        Assert.All(plan, w => Assert.True(w.IsCreate));
        Assert.All(plan, w => Assert.Null(w.IfMatch));
    }

    [Fact]
    public void Plans_mirror_sqlite_for_repeated_and_deleted_ids()
    {
        var plan = CosmosWrite.Plan("u1", new()
        {
            ArchiveAdds = [Item("kept"), Item("kept") with { Importance = 0.9 }, Item("added then deleted")],
            ArchiveDeletes = [Item("added then deleted").Id, Item("added then deleted").Id],
            Accesses = [new(Item("added then deleted").Id, T0, null), new(Item("kept").Id, T0, null)],
        });

        Assert.Equal([WriteKind.Delete, WriteKind.ArchiveCreate, WriteKind.ArchiveAccess], plan.Select(w => w.Kind));
        Assert.Equal("archive:" + Item("kept").Id, plan[1].DocumentId);
        Assert.Equal("archive:" + Item("kept").Id, plan[2].DocumentId);
    }

    [Fact]
    public void An_access_is_a_patch_of_count_last_accessed_and_forget_at()
    {
        var write = CosmosWrite.ArchiveAccess(new("a", T0.AddHours(1), T0.AddDays(3)));

        Assert.Equal([PatchOperationType.Increment, PatchOperationType.Set, PatchOperationType.Set], write.Patch!.Select(p => p.OperationType));
        Assert.Equal(["/accessCount", "/lastAccessedAt", "/forgetAt"], write.Patch!.Select(p => p.Path));
        Assert.Equal(1L, ((PatchOperation<long>)write.Patch![0]).Value);
        Assert.Equal("2026-03-01T09:00:00.0000000Z", ((PatchOperation<string>)write.Patch![1]).Value);
        Assert.Equal("2026-03-04T08:00:00.0000000Z", ((PatchOperation<string>)write.Patch![2]).Value);
    }

    [Fact]
    public void A_large_turn_is_cut_into_batches_of_at_most_a_hundred_with_core_in_the_first()
    {
        var plan = CosmosWrite.Plan("u1", new()
        {
            Core = CoreMemory.CreateDefault(100) with { ETag = "\"e\"" },
            Messages = [.. Enumerable.Range(0, 249).Select(Message)],
        });

        var batches = CosmosWrite.Split(plan);

        Assert.Equal([100, 100, 50], batches.Select(b => b.Count));
        Assert.Equal(WriteKind.Core, batches[0][0].Kind);
        Assert.Equal(plan, batches.SelectMany(b => b));
    }

    [Fact]
    public void A_supersession_that_needs_its_replacement_current_is_guarded_in_its_own_batch()
    {
        var plan = CosmosWrite.Plan("u1", new()
        {
            Accesses = [.. Enumerable.Range(0, 99).Select(i => new ArchiveAccess($"a{i}", T0, T0.AddDays(3), 1))],
            ArchiveSupersessions = [new("old", T0, "new") { RequireCurrentReplacement = true }, new("imported", T0, "later")],
        });

        var batches = CosmosWrite.Split(plan);

        // 99 accesses, then the guard of "new" with the supersession it guards: the pair cannot be cut apart.
        Assert.Equal([99, 3], batches.Select(b => b.Count));
        Assert.Equal([(WriteKind.ArchiveGuard, "archive:new"), (WriteKind.ArchiveSupersede, "archive:old"), (WriteKind.ArchiveSupersede, "archive:imported")],
            batches[1].Select(w => (w.Kind, w.DocumentId)));
    }

    [Fact]
    public void Batches_stay_under_two_megabytes()
    {
        // 1536 floats with ten digits each are ~20 KB of JSON: a hundred such memories would be ~2 MB.
        var plan = CosmosWrite.Plan("u1", new()
        {
            Session = new("s1", "summary", null, null),
            ArchiveAdds = [.. Enumerable.Range(0, 100).Select(i => Item($"memory {i} " + new string('x', 2_000), 1536))],
        });

        var batches = CosmosWrite.Split(plan);

        Assert.True(batches.Count >= 2);
        Assert.All(batches, b => Assert.InRange(b.Sum(w => w.Bytes), 1, CosmosMemoryStore.MaxBatchBytes));
        Assert.Equal(WriteKind.Session, batches[0][0].Kind);
        Assert.Equal(plan, batches.SelectMany(b => b));
        Assert.InRange(CosmosMemoryStore.MaxBatchBytes, 1, 2 * 1024 * 1024 - 100 * CosmosWrite.OperationOverheadBytes);
    }

    [Fact]
    public void A_write_bigger_than_a_batch_still_gets_a_batch_of_its_own()
    {
        var writes = CosmosWrite.Plan("u1", new() { ArchiveAdds = [Item("small"), Item(new string('x', 1_950_000)), Item("small too")] });

        var batches = CosmosWrite.Split(writes);

        Assert.Equal([1, 1, 1], batches.Select(b => b.Count));
    }

    [Theory]
    [InlineData("Core", HttpStatusCode.PreconditionFailed, "Conflict")]
    [InlineData("Core", HttpStatusCode.Conflict, "Conflict")]
    [InlineData("Core", HttpStatusCode.NotFound, "Conflict")]
    [InlineData("Session", HttpStatusCode.PreconditionFailed, "Conflict")]
    [InlineData("ArchiveCreate", HttpStatusCode.Conflict, "Skip")]
    [InlineData("MessageCreate", HttpStatusCode.Conflict, "Skip")]
    [InlineData("Delete", HttpStatusCode.NotFound, "Skip")]
    [InlineData("ArchiveAccess", HttpStatusCode.NotFound, "Skip")]
    [InlineData("ArchiveCreate", HttpStatusCode.TooManyRequests, "Error")]
    [InlineData("Core", HttpStatusCode.RequestEntityTooLarge, "Error")]
    [InlineData("ArchiveAccess", HttpStatusCode.BadRequest, "Error")]
    public void A_failed_operation_is_a_conflict_a_skip_or_an_error(string kind, HttpStatusCode status, string expected)
    {
        var write = Enum.Parse<WriteKind>(kind) switch
        {
            WriteKind.Core => CosmosWrite.Core("u1", CoreMemory.CreateDefault(100) with { ETag = "\"e\"" }),
            WriteKind.Session => CosmosWrite.Session("u1", new("s1", "x", null, "\"e\"")),
            WriteKind.ArchiveCreate => CosmosWrite.ArchiveCreate("u1", Item("x")),
            WriteKind.MessageCreate => CosmosWrite.MessageCreate("u1", Message(1)),
            WriteKind.Delete => CosmosWrite.ArchiveDelete("x"),
            _ => CosmosWrite.ArchiveAccess(new("x", T0, null)),
        };

        Assert.Equal(Enum.Parse<WriteFailure>(expected), write.Classify(status));
    }

    [Fact]
    public void Archive_documents_have_explicit_names_and_leave_out_what_is_null()
    {
        var item = Item("当前项目是客户流失预测") with { ForgetAt = null, Metadata = new Dictionary<string, string> { ["source"] = "chat" } };

        var json = JsonDocument.Parse(CosmosJson.Serialize(ArchiveDocument.From("u1", item))).RootElement;

        // No vector (an embedding outage): the flag the vector backfill finds it by.
        Assert.Equal(["accessCount", "content", "createdAt", "enteredAt", "id", "importance", "lastAccessedAt", "memoryType", "metadata", "pendingVector", "termCount", "terms", "type", "userId"],
            json.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        Assert.True(json.GetProperty("pendingVector").GetBoolean());
        Assert.Equal("archive:" + item.Id, json.GetProperty("id").GetString());
        Assert.Equal("fact", json.GetProperty("memoryType").GetString());
        Assert.Equal(LexicalTerms.ForIndex(item.Content), json.GetProperty("terms").EnumerateArray().Select(t => t.GetString()!));
        Assert.Equal(LexicalTerms.Counts(item.Content).Length, json.GetProperty("termCount").GetInt32());
        Assert.Contains("\"当前项目", System.Text.Encoding.UTF8.GetString(CosmosJson.Serialize(ArchiveDocument.From("u1", item))), StringComparison.Ordinal);
    }

    [Fact]
    public void A_read_archive_document_becomes_the_item_it_was_made_from_less_its_embedding()
    {
        var item = Item("likes tea", 3) with { Type = MemoryType.Preference, AccessCount = 2, Importance = 0.8 };
        var document = JsonSerializer.Deserialize<ArchiveDocument>(CosmosJson.Serialize(ArchiveDocument.From("u1", item)), CosmosJson.Options)!;

        Assert.Equal(item with { Embedding = null }, document.ToItem() with { Metadata = item.Metadata });
        Assert.Equal(3, document.Embedding!.Length);
        Assert.Null(document.PendingVector);
    }

    [Fact]
    public void Times_are_fixed_width_utc_strings_that_sort_as_time_does()
    {
        var times = new[] { T0, T0.AddTicks(1), T0.AddMilliseconds(1), T0.AddDays(1), new DateTimeOffset(2026, 3, 1, 9, 0, 0, TimeSpan.FromHours(2)) };

        var texts = times.Select(CosmosTime.Format).ToList();

        Assert.Equal("2026-03-01T08:00:00.0000000Z", texts[0]);
        Assert.Equal("2026-03-01T07:00:00.0000000Z", texts[4]);
        Assert.All(texts, t => Assert.Equal(28, t.Length));
        Assert.Equal(times.OrderBy(t => t).Select(CosmosTime.Format), texts.Order(StringComparer.Ordinal));
        Assert.Equal(times, texts.Select(CosmosTime.Parse));
    }

    [Theory]
    [InlineData("plain-id", "plain-id")]
    [InlineData("a/b\\c?d#e%f", "a%2Fb%5Cc%3Fd%23e%25f")]
    [InlineData("%2F", "%252F")]
    public void Document_ids_escape_what_cosmos_forbids_one_to_one(string id, string escaped)
    {
        Assert.Equal(escaped, DocumentIds.Escape(id));
        Assert.Equal(id, DocumentIds.Unescape(DocumentIds.Escape(id)));
        Assert.Equal("session:" + escaped, SessionDocument.DocumentId(id));
    }

    [Fact]
    public void Continuation_tokens_travel_as_base64url_and_foreign_ones_are_refused()
    {
        const string token = "[{\"compositeToken\":{\"token\":\"+RID:~abc/def==#RT:1\",\"range\":{\"min\":\"\",\"max\":\"FF\"}}}]";

        var encoded = CosmosMemoryStore.EncodeToken(token);

        Assert.DoesNotContain('+', encoded);
        Assert.DoesNotContain('/', encoded);
        Assert.DoesNotContain('=', encoded);
        Assert.Equal(token, CosmosMemoryStore.DecodeToken(encoded));
        Assert.Null(CosmosMemoryStore.DecodeToken(null));
        Assert.Equal("continuationToken", Assert.Throws<MemoryValidationException>(() => CosmosMemoryStore.DecodeToken("not base64!")).Field);
    }

    [Fact]
    public void The_client_uses_system_text_json_and_the_gateway_for_an_emulator()
    {
        var emulator = CosmosClients.ClientOptions(new() { Endpoint = "https://localhost:8081/", Key = CosmosStoreOptions.EmulatorKey, AllowInsecureEmulatorCertificate = true });
        var account = CosmosClients.ClientOptions(new() { Endpoint = "https://acct.documents.azure.com:443/" });

        Assert.Equal("ServerlessMemory", account.ApplicationName);
        Assert.Same(CosmosJson.Options, account.UseSystemTextJsonSerializerWithOptions);
        Assert.Equal(ConnectionMode.Direct, account.ConnectionMode);
        Assert.False(account.LimitToEndpoint);
        Assert.Null(account.ServerCertificateCustomValidationCallback);
        Assert.Equal(ConnectionMode.Gateway, emulator.ConnectionMode);
        Assert.True(emulator.LimitToEndpoint);
        Assert.NotNull(emulator.ServerCertificateCustomValidationCallback);
    }

    [Fact]
    public void One_client_serves_the_process_per_account()
    {
        var options = new CosmosStoreOptions { Endpoint = "https://localhost:65000/", Key = CosmosStoreOptions.EmulatorKey, AllowInsecureEmulatorCertificate = true };

        Assert.Same(CosmosClients.GetOrCreate(options), CosmosClients.GetOrCreate(new() { Endpoint = options.Endpoint, Key = options.Key, AllowInsecureEmulatorCertificate = true }));
        Assert.Throws<InvalidOperationException>(() => CosmosClients.GetOrCreate(new CosmosStoreOptions()));
        Assert.Equal("cosmos", new CosmosMemoryStore(options).Name);
    }
}
