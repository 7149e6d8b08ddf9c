using System.ClientModel;
using System.Text.Json.Nodes;
using Microsoft.Agents.AI;
using Microsoft.Extensions.AI;
using OpenAI;
using ServerlessMemory.AgentFramework;
using ServerlessMemory.Client;
using ServerlessMemory.Tests.Api;
using ServerlessMemory.Tests.Scripted;
using static ServerlessMemory.Tests.Chat.ChatRequests;

namespace ServerlessMemory.Tests.Agents;

/// <summary>
/// A Microsoft Agent Framework agent with the memory provider, its model the scripted one (through the
/// real OpenAI client), its memory the running self-host (whose extraction model is the same server).
/// </summary>
public sealed class AgentFrameworkTests : IAsyncLifetime
{
    private const string AgentModel = "agent-model";
    private ScriptedModelServer _model = null!;

    public async Task InitializeAsync() => _model = await ScriptedModelServer.StartAsync();

    public async Task DisposeAsync() => await _model.DisposeAsync();

    private static bool IsAgent(JsonObject request) => (string?)request["model"] == AgentModel;

    private IEnumerable<JsonObject> AgentRequests => _model.RequestsTo("/chat/completions").Where(IsAgent);

    private IChatClient AgentChatClient() =>
        new OpenAIClient(new ApiKeyCredential("test-key"), new OpenAIClientOptions { Endpoint = new Uri(_model.BaseUrl + "/v1") })
            .GetChatClient(AgentModel).AsIChatClient();

    private static ServerlessMemoryClient MemoryClient(ServiceFactory service) =>
        new(new HttpClient(), new ServerlessMemoryClientOptions { BaseAddress = service.Client().BaseAddress });

    private ChatClientAgent Agent(ServerlessMemoryClient memory, string userId, ServerlessMemoryProviderOptions? options = null) =>
        new(AgentChatClient(), new ChatClientAgentOptions
        {
            ChatOptions = new() { Instructions = "You are Pip, a friendly assistant." },
            AIContextProviders = [new ServerlessMemoryContextProvider(memory, userId, options)],
        });

    [Fact]
    public async Task In_a_second_session_the_agents_prompt_holds_what_the_first_taught_it()
    {
        _model.Chat = request =>
        {
            if (IsExtraction(request))
                return new(Said(request).Contains("churn", StringComparison.Ordinal)
                    ? """{"core":[{"label":"active_goals","line":"customer-churn prediction with XGBoost"}],"archive":[{"content":"Alice's churn data comes from the CRM","type":"fact","importance":0.6}]}"""
                    : NoExtraction);
            return new(SystemText(request).Contains("customer-churn prediction with XGBoost", StringComparison.Ordinal)
                ? "Your customer-churn prediction project, with XGBoost."
                : "Nice to meet you!");
        };
        using var service = Service(_model);
        var memory = MemoryClient(service);
        var agent = Agent(memory, "alice");

        var first = await agent.CreateSessionAsync();
        var hello = await agent.RunAsync("Hi! I'm working on a customer-churn project with XGBoost, data from our CRM.", first);
        var later = await agent.CreateSessionAsync();
        var answer = await agent.RunAsync("What was my project again, and where does its churn data come from?", later);

        Assert.Equal("Nice to meet you!", hello.Text);
        Assert.Equal("Your customer-churn prediction project, with XGBoost.", answer.Text);
        var prompt = AgentRequests.Last();
        var system = SystemText(prompt);
        Assert.StartsWith("You are Pip, a friendly assistant.", system, StringComparison.Ordinal);
        Assert.Contains("customer-churn prediction with XGBoost", system, StringComparison.Ordinal);
        Assert.Contains("Alice's churn data comes from the CRM", system, StringComparison.Ordinal);
        // A new session: the first one's messages are not in the prompt, only in memory.
        Assert.DoesNotContain(Messages(prompt), m => (string?)m!["role"] == "assistant");
        Assert.Equal(["search_archive", "archive_content", "update_core_memory", "search_conversation"],
            prompt["tools"]!.AsArray().Select(t => (string)t!["function"]!["name"]!));

        // Each agent session is its own service session; both runs were recorded.
        var provider = agent.AIContextProviders!.OfType<ServerlessMemoryContextProvider>().Single();
        var (firstId, laterId) = (provider.GetSessionId(first), provider.GetSessionId(later));
        Assert.NotEqual(firstId, laterId);
        Assert.Equal(["Nice to meet you!", "Hi! I'm working on a customer-churn project with XGBoost, data from our CRM."],
            (await memory.ListMessagesAsync("alice", firstId)).Items.Select(m => m.Content));
        Assert.Equal(["Your customer-churn prediction project, with XGBoost.", "What was my project again, and where does its churn data come from?"],
            (await memory.ListMessagesAsync("alice", laterId)).Items.Select(m => m.Content));
        // The service's own chat model was never called: only extraction.
        Assert.All(_model.RequestsTo("/chat/completions").Where(r => !IsAgent(r)), r => Assert.True(IsExtraction(r)));
    }

    [Fact]
    public async Task The_agents_memory_tools_act_in_its_users_scope_only()
    {
        _model.Chat = request =>
        {
            if (IsExtraction(request)) return new(NoExtraction);
            if (!HasToolResult(request))
                return new(ToolCalls: [("search_archive", """{"query":"tea"}"""), ("archive_content", """{"content":"Alice wants green tea next","type":"preference"}""")]);
            var results = string.Join("\n", Messages(request).Where(m => (string?)m!["role"] == "tool").Select(m => m!["content"]!.ToString()));
            return new(results.Contains("oolong", StringComparison.Ordinal) ? "You like oolong." : "I don't know.");
        };
        using var service = Service(_model);
        var memory = MemoryClient(service);
        await memory.AddArchiveItemAsync("alice", new NewArchiveMemory("Alice likes oolong tea", MemoryTypes.Preference));
        await memory.AddArchiveItemAsync("bob", new NewArchiveMemory("Bob likes black tea", MemoryTypes.Preference));

        var answer = await Agent(memory, "alice").RunAsync("Which tea do I like?");

        Assert.Equal("You like oolong.", answer.Text);
        var toolResults = Messages(AgentRequests.Last()).Where(m => (string?)m!["role"] == "tool").Select(m => m!["content"]!.ToString()).ToList();
        Assert.DoesNotContain(toolResults, r => r.Contains("Bob", StringComparison.Ordinal));
        Assert.Contains((await memory.ListArchiveAsync("alice")).Items, i => i.Content == "Alice wants green tea next");
        Assert.DoesNotContain((await memory.ListArchiveAsync("bob")).Items, i => i.Content == "Alice wants green tea next");
    }

    [Fact]
    public async Task The_memory_tools_alone_serve_any_chat_client_with_function_invocation()
    {
        _model.Chat = request => HasToolResult(request)
            ? new("Noted in your preferences.")
            : new(ToolCalls: [("update_core_memory", """{"field":"preferences","value":"answers in French"}""")]);
        using var service = new ServiceFactory();
        var memory = MemoryClient(service);
        var chat = new ChatClientBuilder(AgentChatClient()).UseFunctionInvocation().Build();

        var tools = await ServerlessMemoryTools.GetAIFunctionsAsync(memory, "carol");
        var response = await chat.GetResponseAsync("Please answer in French from now on.", new ChatOptions { Tools = tools });

        Assert.Equal("Noted in your preferences.", response.Text);
        Assert.Equal("answers in French", (await memory.GetCoreMemoryAsync("carol"))["preferences"]!.Value);
    }

    [Fact]
    public async Task A_refused_tool_call_answers_the_model_with_the_reason()
    {
        _model.Chat = request => HasToolResult(request)
            ? new(Messages(request).Single(m => (string?)m!["role"] == "tool")!["content"]!.ToString())
            : new(ToolCalls: [("update_core_memory", """{"field":"Not A Label","value":"x"}""")]);
        using var service = new ServiceFactory();
        var memory = MemoryClient(service);
        var chat = new ChatClientBuilder(AgentChatClient()).UseFunctionInvocation().Build();

        var response = await chat.GetResponseAsync("hi", new ChatOptions { Tools = await ServerlessMemoryTools.GetAIFunctionsAsync(memory, "dave") });

        Assert.Contains("\"error\"", response.Text, StringComparison.Ordinal);
        Assert.Contains("label", response.Text, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task With_the_memory_service_down_the_agent_still_answers()
    {
        _model.Chat = _ => new("Still here.");
        var closed = new ServerlessMemoryClient(new HttpClient(), new ServerlessMemoryClientOptions { BaseAddress = new Uri("http://127.0.0.1:9/") });

        var answer = await Agent(closed, "erin").RunAsync("hello?");

        Assert.Equal("Still here.", answer.Text);
        Assert.Null(AgentRequests.Single()["tools"]);
    }

    [Fact]
    public async Task With_throw_on_memory_failure_a_memory_outage_fails_the_run()
    {
        _model.Chat = _ => new("Still here.");
        var closed = new ServerlessMemoryClient(new HttpClient(), new ServerlessMemoryClientOptions { BaseAddress = new Uri("http://127.0.0.1:9/") });

        await Assert.ThrowsAsync<HttpRequestException>(() => Agent(closed, "erin", new() { ThrowOnMemoryFailure = true }).RunAsync("hello?"));
        Assert.Empty(AgentRequests);
    }
}
