using System.ClientModel;
using System.ClientModel.Primitives;
using Azure.AI.OpenAI;
using Azure.Identity;
using Microsoft.Extensions.AI;
using OpenAI;
using ServerlessMemory.Core;

namespace ServerlessMemory.Api;

/// <summary>Microsoft.Extensions.AI clients over Azure OpenAI or any OpenAI-compatible endpoint, chosen by settings.</summary>
internal static class ModelClients
{
    /// <param name="retries">Retries inside the client; chat clients get none here, as they retry in <see cref="ModelRetryChatClient"/>.</param>
    public static OpenAIClient CreateClient(ModelOptions options, int? retries = null)
    {
        if (string.IsNullOrWhiteSpace(options.Endpoint) && options.IsAzure)
            throw new InvalidOperationException("Model:Endpoint must be set when Model:Provider is AzureOpenAI.");

        if (options.IsAzure)
        {
            var azure = new AzureOpenAIClientOptions { NetworkTimeout = options.Timeout, RetryPolicy = new ClientRetryPolicy(retries ?? options.MaxRetries) };
            var endpoint = new Uri(options.Endpoint!);
            return string.IsNullOrEmpty(options.ApiKey)
                ? new AzureOpenAIClient(endpoint, new DefaultAzureCredential(), azure)
                : new AzureOpenAIClient(endpoint, new ApiKeyCredential(options.ApiKey), azure);
        }

        if (options.Provider != ModelProvider.OpenAI)
            throw new InvalidOperationException($"Model:Provider '{options.Provider}' is not one of AzureOpenAI, OpenAI, None.");
        var openAi = new OpenAIClientOptions { NetworkTimeout = options.Timeout, RetryPolicy = new ClientRetryPolicy(retries ?? options.MaxRetries) };
        if (!string.IsNullOrWhiteSpace(options.Endpoint)) openAi.Endpoint = new Uri(options.Endpoint);
        // Local OpenAI-compatible servers (Ollama, vLLM) take any key.
        return new OpenAIClient(new ApiKeyCredential(string.IsNullOrEmpty(options.ApiKey) ? "unused" : options.ApiKey), openAi);
    }

    /// <param name="includeContent">Puts prompts and answers into the model spans (OpenTelemetry's sensitive data); off by default.</param>
    public static ChatModels CreateChatModels(OpenAIClient client, ModelOptions options, ChatTurnOptions turn, bool includeContent = false)
    {
        IChatClient Pipeline(string model, bool tools)
        {
            var builder = new ChatClientBuilder(client.GetChatClient(model).AsIChatClient());
            if (tools)
            {
                builder.UseFunctionInvocation(configure: f =>
                {
                    f.MaximumIterationsPerRequest = turn.MaxToolSteps;
                    f.IncludeDetailedErrors = false;
                    f.AdditionalTools = MemoryTools.AliasTools;
                });
                builder.Use(inner => new ToolCallIdChatClient(inner));
            }
            // A span per model request (GenAI conventions: model, tokens, duration), inside the tool loop.
            builder.UseOpenTelemetry(sourceName: MemoryTelemetry.Name, configure: o => o.EnableSensitiveData = includeContent);
            return builder.Use(inner => new ModelRetryChatClient(inner, options.MaxRetries, options.MaxRetryDelay, TimeProvider.System)).Build();
        }
        return new ChatModels(Pipeline(options.ChatModel, tools: true), Pipeline(options.ExtractionModel, tools: false), options.ChatModel, options.ExtractionModel);
    }

    public static IEmbeddingGenerator<string, Embedding<float>>? CreateEmbeddings(OpenAIClient? client, ModelOptions options, bool includeContent = false) =>
        client is null || string.IsNullOrWhiteSpace(options.EmbeddingModel)
            ? null
            : client.GetEmbeddingClient(options.EmbeddingModel).AsIEmbeddingGenerator(options.EmbeddingDimensions)
                .AsBuilder().UseOpenTelemetry(sourceName: MemoryTelemetry.Name, configure: o => o.EnableSensitiveData = includeContent).Build();
}
