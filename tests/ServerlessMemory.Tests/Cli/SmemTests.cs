using Spectre.Console.Testing;
using System.Text.Json;
using System.Text.Json.Nodes;
using ServerlessMemory.Client;
using ServerlessMemory.Tests.Api;
using ServerlessMemory.Tests.Foreign;

namespace ServerlessMemory.Tests.Cli;

/// <summary>The <c>smem</c> command-line tool against the self-host on loopback, as a user runs it.</summary>
public sealed class SmemTests : IDisposable
{
    private readonly ServiceFactory _service = new();
    private readonly string _directory = Directory.CreateTempSubdirectory("sm-cli-").FullName;

    public void Dispose()
    {
        _service.Dispose();
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { }
    }

    private Uri Address => _service.Client().BaseAddress!;

    private ServerlessMemoryClient Client(string? key = null) => new(_service.Client(key));

    private async Task Remember(string user, params string[] contents)
    {
        var client = Client();
        foreach (var content in contents) await client.AddArchiveItemAsync(user, new NewArchiveMemory(content, MemoryTypes.Fact, 0.6));
    }

    [Fact]
    public async Task Export_writes_the_users_document_to_the_file_and_says_how_big()
    {
        await Remember("alice", "Alice sails on Sundays", "Alice prefers green tea");
        var file = Path.Combine(_directory, "alice.json");
        var run = SmemRun.For(Address);

        Assert.Equal(0, await run.RunAsync("export", "alice", "-o", file));

        var document = JsonNode.Parse(await File.ReadAllBytesAsync(file))!;
        Assert.Equal(("serverless-memory/1", "alice"), ((string?)document["format"], (string?)document["userId"]));
        Assert.Equal(["Alice prefers green tea", "Alice sails on Sundays"], document["archive"]!.AsArray().Select(i => (string?)i!["content"]).Order());
        Assert.Contains($"({new FileInfo(file).Length:N0} bytes)", run.Status, StringComparison.Ordinal);
        Assert.False(File.Exists(file + ".partial"));
    }

    [Fact]
    public async Task Export_to_standard_output_writes_the_document_and_nothing_else()
    {
        await Remember("bob", "Bob keeps bees");
        var run = SmemRun.For(Address);

        Assert.Equal(0, await run.RunAsync("export", "bob"));

        var document = JsonNode.Parse(run.StandardOutput)!;
        Assert.Equal("Bob keeps bees", (string?)document["archive"]![0]!["content"]);
    }

    [Fact]
    public async Task A_stopped_export_leaves_no_file_and_says_it_stopped()
    {
        await Remember("carol", "Carol runs marathons");
        var file = Path.Combine(_directory, "carol.json");
        using var stop = new CancellationTokenSource();
        await stop.CancelAsync();
        var run = SmemRun.For(Address);

        Assert.Equal(130, await run.RunAsync(stop.Token, "export", "carol", "-o", file));

        Assert.False(File.Exists(file));
        Assert.False(File.Exists(file + ".partial"));
        Assert.Contains("Stopped.", run.Status, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Search_prints_the_ranked_memories_with_their_scores()
    {
        await Remember("dan", "Dan is training for the Berlin marathon", "Dan drinks oolong tea");
        var run = SmemRun.For(Address);

        Assert.Equal(0, await run.RunAsync("search", "dan", "marathon", "--top", "3"));

        Assert.Contains("Dan is training for the Berlin marathon", run.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("oolong", run.Output, StringComparison.Ordinal);
        Assert.Contains("relevance", run.Output, StringComparison.Ordinal);
        Assert.Equal(1, (await Client().ListArchiveAsync("dan")).Items.Single(i => i.Content.Contains("marathon", StringComparison.Ordinal)).AccessCount);
    }

    [Fact]
    public async Task Core_shows_each_block_with_how_full_it_is()
    {
        await Client().PutCoreBlockAsync("erin", "human", new CoreBlockUpdate("Erin, a marine biologist"));
        var run = SmemRun.For(Address);

        Assert.Equal(0, await run.RunAsync("core", "erin"));

        Assert.Contains("Erin, a marine biologist", run.Output, StringComparison.Ordinal);
        Assert.Contains("24/2,000", run.Output, StringComparison.Ordinal);
        Assert.Contains("persona", run.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Erase_without_yes_and_no_one_at_the_keyboard_erases_nothing()
    {
        await Remember("frank", "Frank collects stamps");
        var run = SmemRun.For(Address);
        run.Input = [];

        Assert.Equal(1, await run.RunAsync("erase", "frank"));

        Assert.Contains("--yes", run.Status, StringComparison.Ordinal);
        Assert.Single((await Client().ListArchiveAsync("frank")).Items);
    }

    [Fact]
    public async Task Erase_asks_for_the_user_id_and_erases_only_when_it_is_typed()
    {
        await Remember("gina", "Gina plays the cello");
        var wrong = SmemRun.For(Address);
        wrong.StatusConsole.Interactive();
        wrong.StatusConsole.Input.PushTextWithEnter("gin");

        Assert.Equal(1, await wrong.RunAsync("erase", "gina"));
        Assert.Single((await Client().ListArchiveAsync("gina")).Items);

        var right = SmemRun.For(Address);
        right.StatusConsole.Interactive();
        right.StatusConsole.Input.PushTextWithEnter("gina");

        Assert.Equal(0, await right.RunAsync("erase", "gina"));
        Assert.Empty((await Client().ListArchiveAsync("gina")).Items);
    }

    [Fact]
    public async Task Erase_with_yes_erases_at_once()
    {
        await Remember("hugo", "Hugo bakes sourdough");
        var run = SmemRun.For(Address);

        Assert.Equal(0, await run.RunAsync("erase", "hugo", "--yes"));

        Assert.Empty((await Client().ListArchiveAsync("hugo")).Items);
    }

    [Fact]
    public async Task The_key_comes_from_the_environment_or_an_option_and_is_never_printed()
    {
        const string key = "cli-key-7f3a9";
        _service.Settings["Auth:ApiKey"] = key;
        await Client(key).AddArchiveItemAsync("ivy", new NewArchiveMemory("Ivy speaks Danish"));

        var without = SmemRun.For(Address);
        Assert.Equal(1, await without.RunAsync("search", "ivy", "Danish"));
        Assert.Contains("401", without.Status, StringComparison.Ordinal);

        var fromEnvironment = SmemRun.For(Address, key);
        Assert.Equal(0, await fromEnvironment.RunAsync("search", "ivy", "Danish"));
        Assert.Contains("Ivy speaks Danish", fromEnvironment.Output, StringComparison.Ordinal);

        var wrong = SmemRun.For(Address);
        Assert.Equal(1, await wrong.RunAsync("core", "ivy", "--key", key + "-wrong"));
        var fromOption = SmemRun.For(Address);
        Assert.Equal(0, await fromOption.RunAsync("core", "ivy", "--key", key));

        Assert.All([without, fromEnvironment, wrong, fromOption], run => Assert.DoesNotContain(key, run.Output + run.Status, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_service_that_cannot_be_reached_is_one_line_not_a_stack_trace()
    {
        var run = SmemRun.For(new Uri("http://127.0.0.1:9/"));

        Assert.Equal(1, await run.RunAsync("core", "jo"));

        Assert.Contains("could not be reached", run.Status, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", run.Status, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Convert_turns_a_Letta_agent_file_into_a_document_and_lists_what_stayed_behind()
    {
        var run = new SmemRun { Input = await File.ReadAllBytesAsync(ForeignMemoryTests.FilePath("letta-memgpt-agent-v1.af")) };

        Assert.Equal(0, await run.RunAsync("convert", "--format", "letta", "--user", "sarah"));

        var document = JsonNode.Parse(run.StandardOutput)!;
        Assert.Equal(("sarah", "letta"), ((string?)document["userId"], (string?)document["store"]));
        Assert.Contains("hi my name is actually sarah not chad", document["messages"]!.AsArray().Select(m => (string?)m!["content"]));
        Assert.Contains("Not carried over", run.Status, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--format", "zip", "--user", "u")]
    [InlineData("--format", "mem0")]
    public async Task Convert_without_a_known_format_and_a_user_is_refused(params string[] options)
    {
        var run = new SmemRun { Input = "[]"u8.ToArray() };

        Assert.NotEqual(0, await run.RunAsync(["convert", .. options]));

        Assert.Empty(run.StandardOutput);
    }
}
