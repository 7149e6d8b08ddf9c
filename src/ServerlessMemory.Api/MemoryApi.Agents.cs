using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using ServerlessMemory.Core;

namespace ServerlessMemory.Api;

/// <summary>Memory for agents that run their own loop: what goes into the prompt, and what to remember after.</summary>
public static partial class MemoryApi
{
    public static Task<IResult> Context(HttpRequest request, string userId, CancellationToken cancellationToken) =>
        Run(request, userId, async (services, engine) =>
        {
            var body = await RequestBody.ReadObjectAsync(request, engine.Limits.RequestBodyBytes, cancellationToken, "message", "sessionId", "tokens");
            var message = body.String("message", required: true)!;
            var sessionId = body.String("sessionId") ?? "default";
            CheckSession(sessionId);
            var tokens = body.Int("tokens", 1, 1_000_000);
            var context = await services.GetRequiredService<ChatAgent>().GetContextAsync(userId, sessionId, message, tokens, cancellationToken);
            return TypedResults.Ok(new ContextAnswer(context.SessionId, context.Core.Blocks,
                [.. context.Recalled.Select(r => ArchiveItemDto.From(r.Item, r.Score))], context.Summary, context.Text, context.Tokens));
        });

    public static Task<IResult> Turns(HttpRequest request, string userId, CancellationToken cancellationToken) =>
        Run(request, userId, async (services, engine) =>
        {
            var body = await RequestBody.ReadObjectAsync(request, engine.Limits.RequestBodyBytes, cancellationToken, "sessionId", "messages");
            var sessionId = body.String("sessionId") ?? "default";
            CheckSession(sessionId);
            var messages = TurnMessages(body);
            var turn = await services.GetRequiredService<ChatAgent>().IngestAsync(userId, sessionId, messages, cancellationToken);
            return TypedResults.Ok(new
            {
                turnId = turn.TurnId,
                memoryUpdates = turn.MemoryUpdates.Select(u => new { target = u.Target, action = u.Action, label = u.Label, id = u.Id, content = u.Content }),
                usage = new { modelCalls = turn.Usage.ModelCalls, promptTokens = turn.Usage.PromptTokens, completionTokens = turn.Usage.CompletionTokens },
            });
        });

    private static List<TurnMessage> TurnMessages(JsonElement body)
    {
        if (!body.TryGetProperty("messages", out var array) || array.ValueKind != JsonValueKind.Array)
            throw new MemoryValidationException("messages", "'messages' is required: an array of { role, content }.");
        var messages = new List<TurnMessage>();
        foreach (var item in array.EnumerateArray())
        {
            var field = $"messages[{messages.Count}]";
            if (item.ValueKind != JsonValueKind.Object)
                throw new MemoryValidationException(field, $"'{field}' must be an object with 'role' and 'content'.");
            foreach (var property in item.EnumerateObject())
                if (property.Name is not ("role" or "content"))
                    throw new MemoryValidationException($"{field}.{property.Name}", $"Unknown field '{field}.{property.Name}'.");
            messages.Add(new(Field(item, field, "role"), Field(item, field, "content")));
        }
        return messages;

        static string Field(JsonElement item, string field, string name) =>
            item.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString()!
                : throw new MemoryValidationException($"{field}.{name}", $"'{field}.{name}' is required and must be a string.");
    }
}
