using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ServerlessMemory.Core;
using ServerlessMemory.Tests.Api;
using ServerlessMemory.Tests.Functions;

namespace ServerlessMemory.Tests.Foreign;

/// <summary>
/// Letta agent files and mem0 exports turned into this service's export document (<see cref="ForeignMemory"/>),
/// from files made to the published formats (Files/README.md says where each comes from).
/// </summary>
public sealed class ForeignMemoryTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 1, 8, 0, 0, TimeSpan.Zero);
    private static readonly DecayModel Decay = new(new DecayOptions());
    private static readonly Lazy<JsonObject> Schema = new(() => JsonNode.Parse(File.ReadAllText(Path.Combine(RepoRoot.Path, "docs", "export.schema.json")))!.AsObject());

    internal static string FilePath(string name) => Path.Combine(RepoRoot.Path, "tests", "ServerlessMemory.Tests", "Foreign", "Files", name);

    private static async Task<(JsonObject Document, ForeignConversion Conversion)> Convert(ForeignFormat format, Stream input, string? agent = null, MemoryLimits? limits = null)
    {
        using var output = new MemoryStream();
        await using (var writer = new Utf8JsonWriter(output))
        {
            var conversion = await new ForeignMemory(Decay, limits ?? new MemoryLimits()).ConvertAsync(format, input, "sarah", Now, writer, agent);
            await writer.FlushAsync();
            var document = JsonNode.Parse(output.ToArray())!.AsObject();
            Assert.Empty(SchemaCheck.Errors(Schema.Value, document));
            return (document, conversion);
        }
    }

    private static Task<(JsonObject Document, ForeignConversion Conversion)> ConvertFile(ForeignFormat format, string name, string? agent = null) =>
        Convert(format, File.OpenRead(FilePath(name)), agent);

    private static Task<(JsonObject Document, ForeignConversion Conversion)> ConvertText(ForeignFormat format, string json, string? agent = null, MemoryLimits? limits = null) =>
        Convert(format, new MemoryStream(Encoding.UTF8.GetBytes(json)), agent, limits);

    private static JsonNode Block(JsonObject document, string label) => document["core"]!["blocks"]!.AsArray().Single(b => (string?)b!["label"] == label)!;

    private static List<(string? Role, string? Content)> Conversation(JsonObject document) =>
        [.. document["messages"]!.AsArray().Reverse().Select(m => ((string?)m!["role"], (string?)m["content"]))];

    [Fact]
    public async Task A_Letta_agent_file_of_the_first_schema_becomes_core_blocks_and_a_session_of_what_was_said()
    {
        var (document, conversion) = await ConvertFile(ForeignFormat.Letta, "letta-memgpt-agent-v1.af");

        Assert.Equal(("serverless-memory/1", "sarah", "letta"), ((string?)document["format"], (string?)document["userId"], (string?)document["store"]));
        var human = Block(document, "human");
        Assert.StartsWith("This is what I know so far about the user", (string?)human["value"], StringComparison.Ordinal);
        Assert.Contains("Occupation: Computer science PhD student at UC Berkeley", (string?)human["value"], StringComparison.Ordinal);
        Assert.Equal(5000, (int)human["limit"]!);
        Assert.StartsWith("The following is a starter persona", (string?)Block(document, "persona")["value"], StringComparison.Ordinal);
        // The service's own blocks the agent lacks are there for the extraction to write to.
        Assert.Equal("", (string?)Block(document, "preferences")["value"]);
        Assert.Equal("", (string?)Block(document, "key_facts")["value"]);

        var conversation = Conversation(document);
        Assert.Equal(("assistant", "More human than human is our motto."), conversation[0]);
        Assert.Equal(("user", "hi my name is actually sarah not chad"), conversation[1]);
        Assert.Contains(("user", "I like vanilla "), conversation.Select(c => (c.Role, c.Content + " ")));
        // Heartbeats, logins, tool results, the system prompt and inner monologue are not conversation.
        Assert.DoesNotContain(conversation, c => c.Content!.Contains("heartbeat", StringComparison.Ordinal) || c.Content.Contains("\"status\"", StringComparison.Ordinal));
        Assert.DoesNotContain(conversation, c => c.Content!.Contains("Updating core memory", StringComparison.Ordinal));
        Assert.All(document["messages"]!.AsArray(), m => Assert.Equal("letta-memgpt_agent", (string?)m!["sessionId"]));
        Assert.Equal("2025-04-01T03:51:08.745Z", (string?)document["messages"]!.AsArray().Single(m => ((string?)m!["content"])!.StartsWith("hi my name", StringComparison.Ordinal))!["createdAt"]);
        // A user message and the replies to it are one turn.
        var turns = document["messages"]!.AsArray().GroupBy(m => (string?)m!["turnId"]).Select(g => g.Select(m => (string?)m!["role"]).ToList()).ToList();
        Assert.Contains(turns, t => t.Contains("user") && t.Contains("assistant"));

        Assert.Equal(conversation.Count, conversion.Messages);
        Assert.Contains(conversion.Notes, n => n.Contains("system prompt", StringComparison.Ordinal) && n.Contains("tools", StringComparison.Ordinal) && n.Contains("gpt-4", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Both_Letta_schemas_of_one_agent_give_the_same_memory()
    {
        var (first, _) = await ConvertFile(ForeignFormat.Letta, "letta-memgpt-agent-v1.af");
        var (second, _) = await ConvertFile(ForeignFormat.Letta, "letta-memgpt-agent-v2.af");

        // The two files are two revisions of the agent, its blocks edited between them; the conversation is the same.
        Assert.All([first, second], d => Assert.StartsWith("This is what I know so far about the user", (string?)Block(d, "human")["value"], StringComparison.Ordinal));
        Assert.Equal(Conversation(first), Conversation(second));
        Assert.Equal(first["messages"]!.AsArray().Select(m => (string?)m!["createdAt"]), second["messages"]!.AsArray().Select(m => (string?)m!["createdAt"]));
    }

    [Fact]
    public async Task Converting_the_same_file_twice_writes_the_same_document()
    {
        var (once, _) = await ConvertFile(ForeignFormat.Letta, "letta-memgpt-agent-v2.af");
        var (twice, _) = await ConvertFile(ForeignFormat.Letta, "letta-memgpt-agent-v2.af");

        Assert.Equal(once.ToJsonString(), twice.ToJsonString());
        Assert.Equal(once["messages"]!.AsArray().Count, once["messages"]!.AsArray().Select(m => (string?)m!["id"]).Distinct().Count());
    }

    [Fact]
    public async Task Letta_labels_take_this_services_form_and_a_block_past_the_limit_keeps_its_overflow_in_the_archive()
    {
        var lines = string.Join("\n", Enumerable.Range(1, 40).Select(i => $"Note {i}: " + new string('x', 60)));
        var file = new JsonObject
        {
            ["agents"] = new JsonArray(new JsonObject { ["name"] = "ezra", ["agent_type"] = "letta_v1_agent", ["block_ids"] = new JsonArray("block-0", "block-1", "block-2") }),
            ["blocks"] = new JsonArray(
                new JsonObject { ["id"] = "block-0", ["label"] = "system/human/Family", ["value"] = "Has a sister, Ana", ["limit"] = 20000 },
                new JsonObject { ["id"] = "block-1", ["label"] = "/note_directory", ["value"] = lines, ["limit"] = 1000, ["read_only"] = true },
                new JsonObject { ["id"] = "block-2", ["label"] = "system/human/family", ["value"] = "Two cats", ["limit"] = 500 }),
            ["tools"] = new JsonArray(),
            ["created_at"] = "2025-10-31T22:56:56.879513+00:00",
        };

        var (document, conversion) = await ConvertText(ForeignFormat.Letta, file.ToJsonString(), limits: new MemoryLimits { MaxBlockLimit = 1000 });

        Assert.Equal("Has a sister, Ana", (string?)Block(document, "system_human_family")["value"]);
        Assert.Equal("Two cats", (string?)Block(document, "system_human_family_2")["value"]);
        var notes = Block(document, "note_directory");
        Assert.True((bool)notes["readOnly"]!);
        Assert.True(((string?)notes["value"])!.Length <= 1000);
        var kept = ((string?)notes["value"])!.Split('\n');
        var archive = document["archive"]!.AsArray();
        // Every line is somewhere: the first ones in the block, the rest as archive memories dated by the file.
        Assert.Equal(40, kept.Length + archive.Count);
        Assert.Equal($"Note {kept.Length + 1}: " + new string('x', 60), (string?)archive.Single(i => ((string?)i!["content"])!.StartsWith($"Note {kept.Length + 1}:", StringComparison.Ordinal))!["content"]);
        Assert.All(archive, i => Assert.Equal(("2025-10-31T22:56:56.879Z", "2026-03-01T08:00:00.000Z", "note_directory"),
            ((string?)i!["createdAt"], (string?)i["enteredAt"], (string?)i["metadata"]!["block"])));
        Assert.Contains(conversion.Notes, n => n.Contains("'system/human/Family' → 'system_human_family'", StringComparison.Ordinal));
        Assert.Contains(conversion.Notes, n => n.Contains("went to the archive", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Of_several_Letta_agents_the_one_named_is_brought_in_else_the_first_that_is_not_a_sleeptime_helper()
    {
        var file = """
            {"agents": [
               {"name": "companion-sleeptime", "agent_type": "sleeptime_agent", "block_ids": ["block-1"]},
               {"name": "Evie", "agent_type": "letta_v1_agent", "block_ids": ["block-0", "block-1"],
                "messages": [{"id": "message-1", "role": "user", "content": [{"type": "text", "text": "I like vanilla"}], "created_at": "2025-11-01T10:00:00+00:00"},
                             {"id": "message-2", "role": "assistant", "content": [{"type": "reasoning", "reasoning": "She likes vanilla."}, {"type": "text", "text": "Vanilla it is."}], "created_at": "2025-11-01T10:00:02+00:00"}]}],
             "blocks": [{"id": "block-0", "label": "persona", "value": "I am Evie."}, {"id": "block-1", "label": "memory_persona", "value": "I tidy memory."}]}
            """;

        var (evie, conversion) = await ConvertText(ForeignFormat.Letta, file);
        var (helper, _) = await ConvertText(ForeignFormat.Letta, file, agent: "companion-sleeptime");

        Assert.Equal("I am Evie.", (string?)Block(evie, "persona")["value"]);
        Assert.Equal([("user", "I like vanilla"), ("assistant", "Vanilla it is.")], Conversation(evie));
        Assert.Contains(conversion.Notes, n => n.Contains("2 agents", StringComparison.Ordinal));
        Assert.Equal(CoreMemory.DefaultPersona, (string?)Block(helper, "persona")["value"]);
        var unknown = await Assert.ThrowsAsync<MemoryValidationException>(() => ConvertText(ForeignFormat.Letta, file, agent: "nobody"));
        Assert.Contains("'Evie'", unknown.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Letta_archival_passages_become_archive_memories_with_their_dates_and_tags()
    {
        var file = """
            {"agents": [{"name": "a", "block_ids": [],
              "passages": [{"id": "passage-0", "text": "Sarah sails with Jean-Luc on Sundays", "created_at": "2025-04-01T03:56:20.857724", "tags": ["hobby", "friends"]},
                           {"id": "passage-1", "text": "  ", "created_at": "2025-04-01T03:56:21"}]}],
             "blocks": []}
            """;

        var (document, _) = await ConvertText(ForeignFormat.Letta, file);

        var item = document["archive"]!.AsArray().Single()!;
        Assert.Equal(("Sarah sails with Jean-Luc on Sundays", "fact", "2025-04-01T03:56:20.857Z", "2026-03-01T08:00:00.000Z", "hobby, friends", "letta"),
            ((string?)item["content"], (string?)item["type"], (string?)item["createdAt"], (string?)item["enteredAt"], (string?)item["metadata"]!["tags"], (string?)item["metadata"]!["source"]));
        Assert.Equal(LexicalTerms.ContentHash("Sarah sails with Jean-Luc on Sundays"), (string?)item["id"]);
        // Entering memory now, a year-old memory fades from now, not from its date.
        Assert.Equal(Now + TimeSpan.FromHours(Math.Log(0.5 / 0.01) / 0.05), DateTimeOffset.Parse((string)item["forgetAt"]!, System.Globalization.CultureInfo.InvariantCulture), TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task Mem0_get_all_output_becomes_archive_memories_with_their_times_and_metadata()
    {
        var (document, conversion) = await ConvertFile(ForeignFormat.Mem0, "mem0-get-all.json");

        Assert.Null(document["core"]);
        Assert.Empty(document["messages"]!.AsArray());
        var archive = document["archive"]!.AsArray();
        Assert.Equal(["Alex prefers vegetarian restaurants", "Alex is planning a trip to San Francisco from July 1st to July 10th", "Name is Alex"],
            archive.Select(i => (string?)i!["content"]));
        var name = archive[2]!;
        Assert.Equal(("identity", "2024-06-30T16:15:00.123Z", "2026-03-01T08:00:00.000Z", null),
            ((string?)name["type"], (string?)name["createdAt"], (string?)name["enteredAt"], (string?)name["forgetAt"]));
        Assert.Equal(new Dictionary<string, string?>
        {
            ["source"] = "mem0", ["mem0_source"] = "onboarding", ["mem0_id"] = "0b8e2f6c-3d41-4f3a-9f7e-5c1d2a9b8e70", ["categories"] = "personal_details",
            ["mem0_agent_id"] = "travel-assistant", ["mem0_updated_at"] = "2024-07-02T10:00:00-07:00", ["confidence"] = "0.9",
        }.OrderBy(p => p.Key), name["metadata"]!.AsObject().Select(p => new KeyValuePair<string, string?>(p.Key, (string?)p.Value)).OrderBy(p => p.Key));
        Assert.Equal(("fact", "mem0"), ((string?)archive[0]!["type"], (string?)archive[0]!["metadata"]!["source"]));
        Assert.Contains(conversion.Notes, n => n.Contains("3 mem0 memories became 3", StringComparison.Ordinal));
    }

    [Fact]
    public async Task OpenMemorys_backup_in_either_file_gives_the_same_memories_and_leaves_the_deleted_out()
    {
        var (json, conversion) = await ConvertFile(ForeignFormat.Mem0, "openmemory-memories.json");
        var (lines, _) = await ConvertFile(ForeignFormat.Mem0, "openmemory-memories.jsonl");

        var archive = json["archive"]!.AsArray();
        Assert.Equal(["Works on a customer-churn prediction project with XGBoost", "Prefers tabs over spaces in Python code"], archive.Select(i => (string?)i!["content"]));
        Assert.Equal(("work", "paused"), ((string?)archive[0]!["metadata"]!["categories"], (string?)archive[0]!["metadata"]!["mem0_state"]));
        Assert.Equal(archive.Select(i => ((string?)i!["content"], (string?)i["createdAt"], (string?)i["metadata"]!["categories"])),
            lines["archive"]!.AsArray().Select(i => ((string?)i!["content"], (string?)i["createdAt"], (string?)i["metadata"]!["categories"])));
        Assert.Contains(conversion.Notes, n => n.Contains("1 deleted", StringComparison.Ordinal));
    }

    [Fact]
    public async Task OpenMemorys_zipped_backup_is_read_as_it_is_downloaded()
    {
        using var zip = new MemoryStream();
        using (var archive = new System.IO.Compression.ZipArchive(zip, System.IO.Compression.ZipArchiveMode.Create, leaveOpen: true))
        await using (var entry = archive.CreateEntry("memories.json").Open())
        await using (var source = File.OpenRead(FilePath("openmemory-memories.json")))
            await source.CopyToAsync(entry);
        zip.Position = 0;

        var (document, _) = await Convert(ForeignFormat.Mem0, zip);

        Assert.Equal(2, document["archive"]!.AsArray().Count);
    }

    [Theory]
    [InlineData(ForeignFormat.Letta, "mem0-get-all.json", "not a Letta agent file")]
    [InlineData(ForeignFormat.Mem0, "letta-memgpt-agent-v2.af", "not a mem0 export")]
    public async Task A_file_of_another_format_is_refused_naming_what_was_expected(ForeignFormat format, string name, string message)
    {
        var refused = await Assert.ThrowsAsync<MemoryValidationException>(() => ConvertFile(format, name));

        Assert.Contains(message, refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_truncated_file_is_refused_and_nothing_is_written()
    {
        var whole = await File.ReadAllBytesAsync(FilePath("mem0-get-all.json"));
        using var output = new MemoryStream();
        await using var writer = new Utf8JsonWriter(output);

        var refused = await Assert.ThrowsAsync<MemoryValidationException>(() =>
            new ForeignMemory(Decay, new MemoryLimits()).ConvertAsync(ForeignFormat.Mem0, new MemoryStream(whole[..(whole.Length / 2)]), "sarah", Now, writer));

        Assert.Contains("not JSON", refused.Message, StringComparison.Ordinal);
        await writer.FlushAsync();
        Assert.Equal(0, output.Length);
    }

    [Fact]
    public async Task A_memory_longer_than_the_archive_allows_is_kept_whole_in_pieces()
    {
        var text = string.Join(" ", Enumerable.Range(0, 1200).Select(i => $"word{i}"));
        var (document, _) = await ConvertText(ForeignFormat.Mem0, new JsonArray(new JsonObject { ["memory"] = text, ["created_at"] = "2025-01-01T00:00:00Z" }).ToJsonString());

        var pieces = document["archive"]!.AsArray().Select(i => (string)i!["content"]!).ToList();
        Assert.True(pieces.Count > 1);
        Assert.All(pieces, p => Assert.True(p.Length <= new MemoryLimits().ArchiveChars));
        Assert.Equal(1200, pieces.Sum(p => p.Split(' ').Length));
    }
}
