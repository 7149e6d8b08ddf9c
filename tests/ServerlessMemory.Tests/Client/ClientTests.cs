using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using ServerlessMemory.Client;
using ServerlessMemory.Tests.Api;
using ServerlessMemory.Tests.Scripted;
using static ServerlessMemory.Tests.Chat.ChatRequests;

namespace ServerlessMemory.Tests.Client;

/// <summary>The .NET client, registered as an application would, against the self-host over HTTP.</summary>
public sealed class ClientTests : IAsyncLifetime
{
    private ScriptedModelServer _model = null!;
    private readonly List<ServiceProvider> _providers = [];

    public async Task InitializeAsync() => _model = await ScriptedModelServer.StartAsync();

    public async Task DisposeAsync()
    {
        foreach (var provider in _providers) await provider.DisposeAsync();
        await _model.DisposeAsync();
    }

    /// <summary>A client from DI, configured from an in-memory configuration section as an app's settings would be.</summary>
    private ServerlessMemoryClient Client(ServiceFactory service, Dictionary<string, string?>? settings = null, Func<HttpMessageHandler, HttpMessageHandler>? wrap = null)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ServerlessMemory:BaseAddress"] = service.Client().BaseAddress!.ToString(),
        }.Concat(settings ?? [])).Build();
        var services = new ServiceCollection().AddSingleton<IConfiguration>(configuration);
        var http = services.AddServerlessMemoryClient();
        if (wrap is not null) http.ConfigurePrimaryHttpMessageHandler(() => wrap(new SocketsHttpHandler()));
        var provider = services.BuildServiceProvider();
        _providers.Add(provider);
        return provider.GetRequiredService<ServerlessMemoryClient>();
    }

    [Fact]
    public async Task Export_streams_the_document_to_a_stream_and_reports_the_bytes()
    {
        using var service = new ServiceFactory();
        var memory = Client(service);
        foreach (var i in Enumerable.Range(0, 30))
            await memory.AddArchiveItemAsync("exporter", new NewArchiveMemory($"memory number {i}", CreatedAt: new DateTimeOffset(2025, 6, 1, 10, 0, i, TimeSpan.Zero)));
        var reports = new List<long>();
        var progress = new SynchronousProgress(reports.Add);
        using var file = new MemoryStream();

        await memory.ExportAsync("exporter", file, progress);

        var document = JsonDocument.Parse(file.ToArray()).RootElement;
        Assert.Equal("serverless-memory/1", document.GetProperty("format").GetString());
        Assert.Equal(30, document.GetProperty("archive").GetArrayLength());
        Assert.Equal(file.Length, reports[^1]);
        Assert.Equal(reports.Order(), reports);
        await Assert.ThrowsAsync<ServerlessMemoryValidationException>(() => memory.ExportAsync("bad user", new MemoryStream()));
    }

    [Fact]
    public async Task Import_sends_a_document_reporting_its_bytes_and_resumes_an_interrupted_one_from_its_cursor()
    {
        using var service = new ServiceFactory();
        service.Settings["Memory:Limits:ImportChunkRecords"] = "5";
        var failing = new FailingStore.Switch();
        service.TestServices = services => FailingStore.Decorate(services, failing);
        var memory = Client(service);
        foreach (var i in Enumerable.Range(0, 12))
            await memory.AddArchiveItemAsync("source", new NewArchiveMemory($"memory number {i}", CreatedAt: new DateTimeOffset(2025, 6, 1, 10, 0, i, TimeSpan.Zero)));
        using var file = new MemoryStream();
        await memory.ExportAsync("source", file);
        var sent = new List<ImportProgress>();

        var dry = await memory.ImportAsync("target", new MemoryStream(file.ToArray()), new ImportOptions(DryRun: true, FromUserId: "source"),
            new SynchronousProgress<ImportProgress>(sent.Add));

        Assert.Equal((12, 0), (dry.Archive.Added, dry.Chunks));
        Assert.Equal(file.Length, sent[^1].BytesSent);
        Assert.Equal(file.Length, sent[^1].TotalBytes);
        // The store fails after two chunks: the first call says what landed, the second goes on from its cursor.
        failing.FailCommitsAfter = 2;
        var interrupted = await Assert.ThrowsAsync<ServerlessMemoryUnavailableException>(() =>
            memory.ImportAsync("target", new MemoryStream(file.ToArray()), new ImportOptions(FromUserId: "source")));
        Assert.Equal((2, false), (interrupted.Imported!.Chunks, interrupted.Imported.Complete));
        Assert.Equal(10, (await memory.ListArchiveAsync("target", limit: 100)).Items.Count);
        failing.FailCommitsAfter = null;

        var resumed = await memory.ImportAsync("target", new MemoryStream(file.ToArray()), new ImportOptions(Cursor: interrupted.Imported.Cursor, FromUserId: "source"));

        Assert.True(resumed.Complete);
        Assert.Equal(2, resumed.Archive.Added);
        Assert.Equal(12, (await memory.ListArchiveAsync("target", limit: 100)).Items.Count);
        // With a way to open the document again, the client resumes by itself.
        failing.FailCommitsAfter = 1;
        var opened = 0;
        var whole = await memory.ImportAsync("again", () => { opened++; if (opened == 2) failing.FailCommitsAfter = null; return new MemoryStream(file.ToArray()); },
            new ImportOptions(FromUserId: "source"));
        Assert.Equal((2, true, 12 - 5), (opened, whole.Complete, whole.Archive.Added)); // the first chunk of five landed before the failure
        Assert.Equal(12, (await memory.ListArchiveAsync("again", limit: 100)).Items.Count);
    }

    /// <summary>Reports on the caller's thread, in order (Progress&lt;T&gt; posts to the thread pool).</summary>
    private sealed class SynchronousProgress(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }

    private sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }

    [Fact]
    public async Task Every_route_answers_through_the_typed_client()
    {
        _model.Chat = request => IsExtraction(request)
            ? new(Said(request).Contains("XGBoost", StringComparison.Ordinal) ? """{"core":[{"label":"active_goals","line":"churn model with XGBoost"}],"archive":[]}""" : NoExtraction)
            : HasToolResult(request) ? new("Saved.")
            : new(ToolCalls: [("archive_content", """{"content":"Alice drinks oolong tea","type":"preference"}""")]);
        using var service = Service(_model);
        var memory = Client(service);
        const string user = "alice@example.com";

        Assert.Equal("ok", (await memory.GetHealthAsync()).Status);

        var core = await memory.GetCoreMemoryAsync(user);
        Assert.Equal(["persona", "human", "preferences", "key_facts", "active_goals"], core.Blocks.Select(b => b.Label));
        var human = await memory.PutCoreBlockAsync(user, "human", new CoreBlockUpdate("Alice, a data scientist", Limit: 500), ifMatch: core.ETag);
        Assert.Equal(("Alice, a data scientist", 500), (human.Value, human.Limit));
        await memory.PutCoreBlockAsync(user, "scratch", new CoreBlockUpdate("temporary"));
        await memory.DeleteCoreBlockAsync(user, "scratch");
        core = await memory.GetCoreMemoryAsync(user);
        Assert.Null(core["scratch"]);
        Assert.Equal("Alice, a data scientist", core["human"]!.Value);

        var added = await memory.AddArchiveItemAsync(user, new NewArchiveMemory("Alice's project is churn prediction", MemoryTypes.Fact, 0.7,
            Metadata: new Dictionary<string, string> { ["source"] = "import" }));
        Assert.True(added.Created);
        Assert.Equal("import", added.Item.Metadata["source"]);
        Assert.False((await memory.AddArchiveItemAsync(user, new NewArchiveMemory("Alice's project is churn prediction"))).Created);
        var found = Assert.Single(await memory.SearchArchiveAsync(user, "churn project", top: 3));
        Assert.Equal(added.Item.Id, found.Id);
        Assert.NotNull(found.Score);
        Assert.Equal(1, (await memory.GetArchiveItemAsync(user, added.Item.Id)).AccessCount);
        var page = await memory.ListArchiveAsync(user, limit: 10);
        Assert.Equal([added.Item.Id], page.Items.Select(i => i.Id));
        Assert.Null(page.ContinuationToken);

        var tools = await memory.ListToolsAsync();
        Assert.Contains(tools, t => t.Name == "search_archive" && t.Parameters.GetProperty("required")[0].GetString() == "query");
        var result = await memory.InvokeToolAsync(user, "search_archive", new { query = "churn" });
        Assert.Equal(added.Item.Id, result.GetProperty("results")[0].GetProperty("id").GetString());

        var turn = await memory.ChatAsync(user, "Please remember my tea", sessionId: "chat");
        Assert.Equal("Saved.", turn.Reply);
        var call = Assert.Single(turn.ToolCalls);
        Assert.Equal("archive_content", call.Name);
        Assert.True(call.Result!.Value.GetProperty("stored").GetBoolean());
        Assert.Contains(turn.MemoryUpdates, u => u is { Target: "archive", Action: "insert", Content: "Alice drinks oolong tea" });

        var context = await memory.GetContextAsync(user, "What do I drink, and what is my project?", sessionId: "agent");
        Assert.Contains("Alice, a data scientist", context.Text, StringComparison.Ordinal);
        Assert.Contains(context.Recalled, r => r.Content == "Alice drinks oolong tea");
        Assert.True(context.Tokens > 0);
        Assert.Equal("agent", context.SessionId);

        var recorded = await memory.RecordTurnAsync(user, [TurnMessage.User("I'm training XGBoost now"), TurnMessage.Assistant("Good luck!")], sessionId: "agent");
        Assert.Contains(recorded.MemoryUpdates, u => u is { Target: "core", Label: "active_goals", Content: "churn model with XGBoost" });
        Assert.Equal(1, recorded.Usage.ModelCalls);

        var messages = await memory.ListMessagesAsync(user, sessionId: "agent");
        Assert.Equal(["Good luck!", "I'm training XGBoost now"], messages.Items.Select(m => m.Content));
        Assert.Equal(4, (await memory.ListMessagesAsync(user)).Items.Count);
        var first = await memory.ListMessagesAsync(user, limit: 1);
        Assert.NotNull(first.ContinuationToken);
        Assert.Single((await memory.ListMessagesAsync(user, limit: 1, continuationToken: first.ContinuationToken)).Items);

        await memory.DeleteArchiveItemAsync(user, added.Item.Id);
        await Assert.ThrowsAsync<ServerlessMemoryNotFoundException>(() => memory.GetArchiveItemAsync(user, added.Item.Id));

        var sweep = await memory.RunDecaySweepAsync();
        Assert.True(sweep.Scanned >= 0);

        await memory.DeleteUserAsync(user);
        Assert.Empty((await memory.ListArchiveAsync(user)).Items);
        Assert.Empty((await memory.ListMessagesAsync(user)).Items);
        Assert.Equal("", (await memory.GetCoreMemoryAsync(user))["human"]!.Value);
    }

    [Fact]
    public async Task Problems_become_typed_exceptions_with_what_the_service_said()
    {
        using var service = new ServiceFactory();
        var memory = Client(service);

        var invalid = await Assert.ThrowsAsync<ServerlessMemoryValidationException>(() =>
            memory.PutCoreBlockAsync("u", "Bad Label", new CoreBlockUpdate("x")));
        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
        Assert.Contains("label", invalid.Errors.Keys);
        Assert.False(string.IsNullOrEmpty(invalid.Title));

        var missing = await Assert.ThrowsAsync<ServerlessMemoryNotFoundException>(() => memory.GetArchiveItemAsync("u", "0123456789abcdef0123456789abcdef"));
        Assert.Contains("0123456789abcdef0123456789abcdef", missing.Detail, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ServerlessMemoryNotFoundException>(() => memory.InvokeToolAsync("u", "no_such_tool", new { }));

        await memory.PutCoreBlockAsync("u", "human", new CoreBlockUpdate("first"));
        var stale = (await memory.GetCoreMemoryAsync("u")).ETag;
        await memory.PutCoreBlockAsync("u", "human", new CoreBlockUpdate("second"));
        var conflict = await Assert.ThrowsAsync<ServerlessMemoryConflictException>(() =>
            memory.PutCoreBlockAsync("u", "human", new CoreBlockUpdate("third"), ifMatch: stale));
        Assert.Equal(HttpStatusCode.PreconditionFailed, conflict.StatusCode);
        Assert.Equal("second", (await memory.GetCoreMemoryAsync("u"))["human"]!.Value);

        await Assert.ThrowsAsync<ServerlessMemoryRequestTooLargeException>(() =>
            memory.AddArchiveItemAsync("u", new NewArchiveMemory(new string('x', 70_000))));

        // No model configured: a 501, which no retry helps.
        var notConfigured = await Assert.ThrowsAsync<ServerlessMemoryNotConfiguredException>(() => memory.ChatAsync("u", "hello"));
        Assert.Equal((HttpStatusCode)501, notConfigured.StatusCode);
        await Assert.ThrowsAsync<ServerlessMemoryNotConfiguredException>(() => memory.RecordTurnAsync("u", [TurnMessage.User("hello")]));
    }

    [Fact]
    public async Task Keys_come_from_configuration_and_the_admin_key_only_goes_to_admin_routes()
    {
        using var service = new ServiceFactory();
        service.Settings["Auth:ApiKey"] = "user-key";
        service.Settings["Auth:AdminKey"] = "admin-key";

        var none = Client(service);
        var unauthorized = await Assert.ThrowsAsync<ServerlessMemoryAuthorizationException>(() => none.GetCoreMemoryAsync("u"));
        Assert.Equal(HttpStatusCode.Unauthorized, unauthorized.StatusCode);

        var user = Client(service, new() { ["ServerlessMemory:ApiKey"] = "user-key" });
        Assert.Equal(5, (await user.GetCoreMemoryAsync("u")).Blocks.Count);
        await Assert.ThrowsAsync<ServerlessMemoryAuthorizationException>(() => user.RunDecaySweepAsync());

        var admin = Client(service, new() { ["ServerlessMemory:ApiKey"] = "user-key", ["ServerlessMemory:AdminKey"] = "admin-key" });
        Assert.True((await admin.RunDecaySweepAsync()).Scanned >= 0);
        Assert.Equal(5, (await admin.GetCoreMemoryAsync("u")).Blocks.Count);
    }

    [Fact]
    public async Task A_503_is_retried_but_a_post_whose_connection_broke_is_not()
    {
        using var service = new ServiceFactory();
        var faults = new FaultInjector();
        var memory = Client(service, wrap: inner => faults.Over(inner));

        faults.Next = Fault.Unavailable(TimeSpan.Zero);
        var added = await memory.AddArchiveItemAsync("u", new NewArchiveMemory("retried after a 503"));
        Assert.True(added.Created);
        Assert.Equal(2, faults.Attempts(HttpMethod.Post));

        faults.Next = Fault.Drop;
        await Assert.ThrowsAsync<HttpRequestException>(() => memory.AddArchiveItemAsync("u", new NewArchiveMemory("not sent twice")));
        Assert.Equal(3, faults.Attempts(HttpMethod.Post));

        faults.Next = Fault.Drop;
        Assert.Equal(added.Item.Id, (await memory.GetArchiveItemAsync("u", added.Item.Id)).Id);
        Assert.Equal(2, faults.Attempts(HttpMethod.Get));

        faults.Next = Fault.Unavailable(TimeSpan.FromSeconds(120));
        var unavailable = await Assert.ThrowsAsync<ServerlessMemoryUnavailableException>(() => memory.GetCoreMemoryAsync("u"));
        Assert.Equal(TimeSpan.FromSeconds(120), unavailable.RetryAfter);
        Assert.Equal(3, faults.Attempts(HttpMethod.Get));
    }

    private enum FaultKind { None, Unavailable, Drop }

    private sealed record Fault(FaultKind Kind, TimeSpan RetryAfter)
    {
        public static Fault Drop { get; } = new(FaultKind.Drop, TimeSpan.Zero);

        public static Fault Unavailable(TimeSpan retryAfter) => new(FaultKind.Unavailable, retryAfter);
    }

    /// <summary>Fails the next request once, as a proxy or a dropped connection would, and counts attempts per method.</summary>
    private sealed class FaultInjector
    {
        private readonly Dictionary<HttpMethod, int> _attempts = [];

        public Fault? Next { get; set; }

        public int Attempts(HttpMethod method)
        {
            lock (_attempts) return _attempts.GetValueOrDefault(method);
        }

        public HttpMessageHandler Over(HttpMessageHandler inner) => new Handler(this, inner);

        private sealed class Handler(FaultInjector faults, HttpMessageHandler inner) : DelegatingHandler(inner)
        {
            protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
            {
                Fault? fault;
                lock (faults._attempts)
                {
                    faults._attempts[request.Method] = faults._attempts.GetValueOrDefault(request.Method) + 1;
                    fault = faults.Next;
                    faults.Next = null;
                }
                switch (fault?.Kind)
                {
                    case FaultKind.Drop:
                        throw new HttpRequestException("The connection was closed (injected).");
                    case FaultKind.Unavailable:
                        var response = new HttpResponseMessage(HttpStatusCode.ServiceUnavailable)
                        {
                            RequestMessage = request,
                            Content = new StringContent("""{"title":"The model is unavailable.","status":503}""", System.Text.Encoding.UTF8, "application/problem+json"),
                        };
                        response.Headers.RetryAfter = new((TimeSpan)fault.RetryAfter);
                        return Task.FromResult(response);
                    default:
                        return base.SendAsync(request, cancellationToken);
                }
            }
        }
    }
}
