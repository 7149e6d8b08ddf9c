using ServerlessMemory.Client;
using ServerlessMemory.Tests.Functions.Host;
using ServerlessMemory.Tests.Scripted;
using static ServerlessMemory.Tests.Chat.ChatRequests;

namespace ServerlessMemory.Tests.Functions;

/// <summary>The built Functions app with the scripted model as its extraction model, so that <c>turns</c> can run.</summary>
public sealed class ModelledFunctionsAppFixture : FunctionsAppFixture, IAsyncLifetime
{
    public ScriptedModelServer Model { get; private set; } = null!;

    // Re-implements IAsyncLifetime: the model must be up before the app starts with its address.
    public new async Task InitializeAsync()
    {
        Model = await ScriptedModelServer.StartAsync();
        Model.Chat = request => IsExtraction(request)
            ? new(Said(request).Contains("XGBoost", StringComparison.Ordinal)
                ? """{"core":[{"label":"active_goals","line":"churn model with XGBoost"}],"archive":[{"content":"The churn data comes from the CRM","type":"fact","importance":0.6}]}"""
                : NoExtraction)
            : new(Status: 500);
        await base.InitializeAsync();
    }

    public new async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Model.DisposeAsync();
    }

    protected override FunctionsWorkerHostOptions Configure(FunctionsWorkerHostOptions options) => options with
    {
        Settings = new Dictionary<string, string?>(options.Settings)
        {
            ["Model__Provider"] = "OpenAI",
            ["Model__Endpoint"] = Model.BaseUrl + "/v1",
            ["Model__ApiKey"] = "test-key",
            ["Model__EmbeddingModel"] = "",
            ["Model__MaxRetries"] = "1",
        },
    };
}

/// <summary>The context and turns routes through the Functions app, with the .NET client, as against the self-host.</summary>
public sealed class FunctionsHostAgentMemoryTests(ModelledFunctionsAppFixture app) : IClassFixture<ModelledFunctionsAppFixture>
{
    private readonly ServerlessMemoryClient _memory = new(app.Client());

    [Fact]
    public Task A_turn_recorded_through_the_functions_app_is_in_the_next_context() => app.WithLogsAsync(async () =>
    {
        var user = "fn-" + Guid.NewGuid().ToString("N")[..8];

        var turn = await _memory.RecordTurnAsync(user, [TurnMessage.User("I'm training XGBoost on churn data from our CRM"), TurnMessage.Assistant("Good plan.")], "s1");
        var context = await _memory.GetContextAsync(user, "where does my churn data come from?", "s2");

        Assert.Contains(turn.MemoryUpdates, u => u is { Target: "core", Label: "active_goals", Content: "churn model with XGBoost" });
        Assert.Contains("churn model with XGBoost", context.Text, StringComparison.Ordinal);
        Assert.Equal("The churn data comes from the CRM", Assert.Single(context.Recalled).Content);
        Assert.Equal(1, (await _memory.GetArchiveItemAsync(user, context.Recalled[0].Id)).AccessCount);
        Assert.Equal(["Good plan.", "I'm training XGBoost on churn data from our CRM"],
            (await _memory.ListMessagesAsync(user, "s1")).Items.Select(m => m.Content));
    });

    [Fact]
    public Task Bad_context_and_turns_requests_are_the_same_400s_as_in_the_self_host() => app.WithLogsAsync(async () =>
    {
        var context = await Assert.ThrowsAsync<ServerlessMemoryValidationException>(() => _memory.GetContextAsync("u", "hi", tokens: 0));
        Assert.Contains("tokens", context.Errors.Keys);
        var turns = await Assert.ThrowsAsync<ServerlessMemoryValidationException>(() => _memory.RecordTurnAsync("u", [new TurnMessage("system", "x")]));
        Assert.Contains("messages[0].role", turns.Errors.Keys);
    });
}
