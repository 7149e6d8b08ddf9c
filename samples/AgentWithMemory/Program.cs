// A Microsoft Agent Framework agent whose memory lives in ServerlessMemory.
//   dotnet run --project src/ServerlessMemory.Server          # the service, on http://127.0.0.1:7071
//   MODEL_ENDPOINT=http://localhost:11434/v1 MODEL=llama3.1 dotnet run --project samples/AgentWithMemory
// The service needs an extraction model for what it remembers (Model__Provider etc., see the README).
using System.ClientModel;
using Microsoft.Agents.AI;
using Microsoft.Extensions.AI;
using OpenAI;
using ServerlessMemory.AgentFramework;
using ServerlessMemory.Client;

var endpoint = new Uri(Environment.GetEnvironmentVariable("MODEL_ENDPOINT") ?? "http://localhost:11434/v1");
var key = new ApiKeyCredential(Environment.GetEnvironmentVariable("MODEL_API_KEY") ?? "unused");
IChatClient model = new OpenAIClient(key, new OpenAIClientOptions { Endpoint = endpoint })
    .GetChatClient(Environment.GetEnvironmentVariable("MODEL") ?? "llama3.1").AsIChatClient();

var memory = new ServerlessMemoryClient(new HttpClient(), new() { BaseAddress = new("http://127.0.0.1:7071/") });
AIAgent agent = new ChatClientAgent(model, new ChatClientAgentOptions
{
    ChatOptions = new() { Instructions = "You are a friendly assistant." },
    AIContextProviders = [new ServerlessMemoryContextProvider(memory, userId: "alice")],
});

Console.WriteLine(await agent.RunAsync("I'm building a churn model with XGBoost.", await agent.CreateSessionAsync()));
// A new session: nothing of the first is in its history, yet its prompt holds what the first taught.
Console.WriteLine(await agent.RunAsync("What was my project again?", await agent.CreateSessionAsync()));
