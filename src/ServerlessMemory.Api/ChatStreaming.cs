using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using ServerlessMemory.Core;

namespace ServerlessMemory.Api;

/// <summary>
/// <c>POST users/{userId}/chat</c> with <c>Accept: text/event-stream</c>: the turn as Server-Sent
/// Events (<c>delta</c>, <c>tool</c>, then <c>done</c> with the non-streaming answer, or
/// <c>error</c> with a problem). A failure before the first event is the usual problem+json.
/// </summary>
public static partial class MemoryApi
{
    internal static bool AcceptsEventStream(HttpRequest request) =>
        request.GetTypedHeaders().Accept.Any(a => a.MediaType.Equals("text/event-stream", StringComparison.OrdinalIgnoreCase));

    /// <summary>The chat answer, as the JSON call returns it and the stream's <c>done</c> event carries it.</summary>
    internal static object ChatAnswer(ChatTurnResult turn) => new
    {
        turnId = turn.TurnId,
        reply = turn.Reply,
        toolCalls = turn.ToolCalls.Select(ToolCall),
        memoryUpdates = turn.MemoryUpdates.Select(u => new { target = u.Target, action = u.Action, label = u.Label, id = u.Id, content = u.Content }),
        recalled = turn.Recalled,
        usage = new { modelCalls = turn.Usage.ModelCalls, promptTokens = turn.Usage.PromptTokens, completionTokens = turn.Usage.CompletionTokens },
    };

    private static object ToolCall(ToolCallRecord c) => new { name = c.Name, arguments = c.Arguments, result = c.Result };

    private static async Task<IResult> StreamChat(HttpRequest request, ChatAgent agent, string userId, string sessionId, string message, CancellationToken cancellationToken)
    {
        var services = request.HttpContext.RequestServices;
        var json = services.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
        var events = agent.StreamAsync(userId, sessionId, message, cancellationToken).GetAsyncEnumerator(cancellationToken);
        try
        {
            // Loading memory, the prompt and the model's first token happen here: a failure is Run's problem+json.
            if (!await events.MoveNextAsync()) throw new InvalidOperationException("A streamed turn ended without its done event.");
        }
        catch
        {
            await events.DisposeAsync();
            throw;
        }
        return TypedResults.ServerSentEvents(Events(events, json, request.HttpContext));
    }

    private static async IAsyncEnumerable<SseItem<string>> Events(IAsyncEnumerator<ChatTurnEvent> events, JsonSerializerOptions json,
        HttpContext context, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await using var _ = events;
        for (var more = true; more;)
        {
            yield return events.Current switch
            {
                ChatTurnDelta d => Item("delta", new { text = d.Text }, json),
                ChatTurnToolCall t => Item("tool", ToolCall(t.Call), json),
                ChatTurnDone done => Item("done", ChatAnswer(done.Result), json),
                var other => throw new InvalidOperationException($"Unknown turn event {other.GetType().Name}."),
            };
            Problem? problem = null;
            try
            {
                more = await events.MoveNextAsync();
            }
            catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested || cancellationToken.IsCancellationRequested)
            {
                yield break; // the caller left: the turn stopped and stored nothing
            }
            catch (Exception e)
            {
                // The status line is long sent: what Run would answer goes in the error event.
                problem = Problems.For(e, context.Request);
            }
            if (problem is not null)
            {
                yield return Item("error", problem.ToDetails(), json);
                yield break;
            }
        }
    }

    private static SseItem<string> Item<T>(string type, T data, JsonSerializerOptions json) =>
        new(JsonSerializer.Serialize(data, json), type);
}
