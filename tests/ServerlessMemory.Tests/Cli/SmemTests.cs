using Spectre.Console.Testing;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using System.Text.Json.Nodes;
using ServerlessMemory.Client;
using ServerlessMemory.Tests.Api;
using ServerlessMemory.Tests.Chat;
using ServerlessMemory.Tests.Scripted;
using ServerlessMemory.Tests.Foreign;

namespace ServerlessMemory.Tests.Cli;

/// <summary>The <c>smem</c> command-line tool against the self-host on loopback, as a user runs it.</summary>
public sealed class SmemTests : IDisposable
{
    private readonly ServiceFactory _service = new();
    private readonly string _directory = Directory.CreateTempSubdirectory("sm-cli-").FullName;

    // The tool dates what it converts by the service's Date header, which Kestrel writes from the real
    // clock: the service's clock is set to it, as a deployed service's is.
    public SmemTests() => _service.Time.SetUtcNow(DateTimeOffset.UtcNow);

    public void Dispose()
    {
        _service.Dispose();
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { }
    }

    private Uri Address => _service.Client().BaseAddress!;

    /// <summary>A run against <paramref name="service"/> (this test's by default), keeping its import state in this test's folder.</summary>
    private SmemRun Smem(Uri? service = null, string? key = null)
    {
        var run = SmemRun.For(service ?? Address, key);
        run.Environment["SMEM_STATE"] = Path.Combine(_directory, "state");
        return run;
    }

    private string[] ImportsKept() =>
        Directory.Exists(Path.Combine(_directory, "state", "imports")) ? Directory.GetDirectories(Path.Combine(_directory, "state", "imports")) : [];

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
    public async Task Export_with_vectors_carries_each_memorys_vector_and_names_the_model()
    {
        await using var model = await ScriptedModelServer.StartAsync();
        using var service = ChatRequests.Service(model, embeddings: true);
        await new ServerlessMemoryClient(service.Client()).AddArchiveItemAsync("vera", new NewArchiveMemory("Vera brews oolong", MemoryTypes.Fact, 0.6));
        var (withVectors, plain) = (Path.Combine(_directory, "vera-vectors.json"), Path.Combine(_directory, "vera.json"));

        Assert.Equal(0, await Smem(service.Client().BaseAddress).RunAsync("export", "vera", "-o", withVectors, "--vectors"));
        Assert.Equal(0, await Smem(service.Client().BaseAddress).RunAsync("export", "vera", "-o", plain));

        var document = JsonNode.Parse(await File.ReadAllBytesAsync(withVectors))!;
        Assert.Equal(("text-embedding-3-small", 64), ((string?)document["vectors"]!["model"], (int)document["vectors"]!["dimensions"]!));
        Assert.Equal(ScriptedModelServer.HashedTerms("Vera brews oolong"), document["archive"]![0]!["vector"]!.AsArray().Select(x => (float)x!));
        Assert.False(JsonNode.Parse(await File.ReadAllBytesAsync(plain))!["archive"]![0]!.AsObject().ContainsKey("vector"));
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

    [Fact]
    public async Task An_exported_user_imported_into_another_has_the_same_memories_and_a_second_import_changes_nothing()
    {
        await Remember("kim", "Kim grows tomatoes", "Kim studies Korean");
        await Client().SearchArchiveAsync("kim", "tomatoes");
        var file = Path.Combine(_directory, "kim.json");
        Assert.Equal(0, await Smem().RunAsync("export", "kim", "-o", file));

        var first = Smem();
        Assert.Equal(0, await first.RunAsync("import", "kim2", file, "--from-user", "kim"));
        var second = Smem();
        Assert.Equal(0, await second.RunAsync("import", "kim2", file, "--from-user", "kim"));

        var before = (await Client().ListArchiveAsync("kim")).Items;
        var after = (await Client().ListArchiveAsync("kim2")).Items;
        Assert.Equal(before.Select(i => (i.Content, i.EnteredAt, i.AccessCount)), after.Select(i => (i.Content, i.EnteredAt, i.AccessCount)));
        Assert.Matches(@"archive\s*│\s*2\s*│\s*0\s*│\s*0", first.Output);
        Assert.Matches(@"archive\s*│\s*0\s*│\s*0\s*│\s*2", second.Output);
        Assert.Contains("Complete", first.Status, StringComparison.Ordinal);
        Assert.Empty(ImportsKept());
    }

    [Fact]
    public async Task A_document_of_another_user_is_refused_until_its_user_is_named()
    {
        await Remember("lea", "Lea paints watercolours");
        var file = Path.Combine(_directory, "lea.json");
        Assert.Equal(0, await Smem().RunAsync("export", "lea", "-o", file));

        var run = Smem();
        Assert.Equal(1, await run.RunAsync("import", "lea2", file));

        Assert.Contains("400", run.Status, StringComparison.Ordinal);
        Assert.Empty((await Client().ListArchiveAsync("lea2")).Items);
    }

    [Fact]
    public async Task A_dry_run_says_what_would_land_and_writes_nothing()
    {
        var run = Smem();

        Assert.Equal(0, await run.RunAsync("import", "max", ForeignMemoryTests.FilePath("mem0-get-all.json"), "--format", "mem0", "--dry-run"));

        Assert.Contains("would be (dry run)", run.Output, StringComparison.Ordinal);
        Assert.Matches(@"archive\s*│\s*3\s*│", run.Output);
        Assert.Empty((await Client().ListArchiveAsync("max")).Items);
        Assert.Empty(ImportsKept());
    }

    [Fact]
    public async Task A_Letta_agent_file_imports_as_core_blocks_and_a_session()
    {
        var run = Smem();

        Assert.Equal(0, await run.RunAsync("import", "sarah", ForeignMemoryTests.FilePath("letta-memgpt-agent-v2.af"), "--format", "letta"));

        var core = await Client().GetCoreMemoryAsync("sarah");
        Assert.Contains("Occupation: Computer science PhD student at UC Berkeley", core["human"]!.Value, StringComparison.Ordinal);
        var messages = (await Client().ListMessagesAsync("sarah", "letta-memgpt_agent")).Items;
        Assert.Contains(messages, m => m is { Role: "user", Content: "hi my name is actually sarah not chad" });
        Assert.Contains(messages, m => m is { Role: "assistant", Content: "More human than human is our motto." });
        Assert.Contains("Not carried over", run.Status, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_mem0_export_from_standard_input_imports_as_dated_memories_that_search_finds()
    {
        var run = Smem();
        run.Input = await File.ReadAllBytesAsync(ForeignMemoryTests.FilePath("mem0-get-all.json"));

        Assert.Equal(0, await run.RunAsync("import", "alex", "--format", "mem0"));

        var found = await Client().SearchArchiveAsync("alex", "vegetarian restaurants");
        Assert.Equal(("Alex prefers vegetarian restaurants", new DateTimeOffset(2024, 7, 5, 15, 30, 0, TimeSpan.Zero)), (found[0].Content, found[0].CreatedAt));
        Assert.Empty(ImportsKept());
    }

    [Fact]
    public async Task An_import_stopped_with_ctrl_c_goes_on_when_the_same_command_runs_again()
    {
        using var stop = new CancellationTokenSource();
        // Ctrl+C as the service starts reading the import: the tool stops, the service's request is aborted.
        _service.TestServices = services => services.AddSingleton<IStartupFilter>(new StopOnImport(stop));
        var input = await File.ReadAllBytesAsync(ForeignMemoryTests.FilePath("openmemory-memories.json"));
        var stopped = Smem();
        stopped.Input = input;

        Assert.Equal(130, await stopped.RunAsync(stop.Token, "import", "olga", "--format", "mem0"));
        Assert.Contains("Stopped.", stopped.Status, StringComparison.Ordinal);
        Assert.Single(ImportsKept());

        var again = Smem();
        again.Input = input;
        Assert.Equal(0, await again.RunAsync("import", "olga", "--format", "mem0"));

        Assert.Equal(["Prefers tabs over spaces in Python code", "Works on a customer-churn prediction project with XGBoost"],
            (await Client().ListArchiveAsync("olga")).Items.Select(i => i.Content).Order());
        Assert.Empty(ImportsKept());
    }

    private sealed class StopOnImport(CancellationTokenSource stop) : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use(async (context, following) =>
            {
                if (context.Request.Path.Value!.EndsWith("/import", StringComparison.Ordinal) && !stop.IsCancellationRequested)
                {
                    await stop.CancelAsync();
                    await Task.Delay(500, CancellationToken.None);
                }
                await following(context);
            });
            next(app);
        };
    }

    [Fact]
    public async Task Copy_moves_a_user_to_another_service_with_its_decay_state()
    {
        using var azure = new ServiceFactory();
        azure.Time.SetUtcNow(DateTimeOffset.UtcNow);
        azure.Settings["Auth:ApiKey"] = "azure-key-31";
        await Remember("pia", "Pia climbs in Fontainebleau", "Pia is allergic to peanuts");
        await Client().SearchArchiveAsync("pia", "peanuts");
        var run = Smem();

        Assert.Equal(0, await run.RunAsync("copy", "pia", "--to-url", azure.Client().BaseAddress!.ToString(), "--to-key", "azure-key-31"));

        var there = (await new ServerlessMemoryClient(azure.Client("azure-key-31")).ListArchiveAsync("pia")).Items;
        var here = (await Client().ListArchiveAsync("pia")).Items;
        Assert.Equal(here.Select(i => (i.Content, i.CreatedAt, i.EnteredAt, i.LastAccessedAt, i.AccessCount, i.ForgetAt)),
            there.Select(i => (i.Content, i.CreatedAt, i.EnteredAt, i.LastAccessedAt, i.AccessCount, i.ForgetAt)));
        Assert.DoesNotContain("azure-key-31", run.Output + run.Status, StringComparison.Ordinal);
        Assert.Empty(ImportsKept());
    }
}
