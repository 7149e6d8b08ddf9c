using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.Extensions.AI;

namespace ServerlessMemory.Core;

/// <summary>What a streamed turn tells as it goes: pieces of the answer, tool calls as they run, and the turn once committed.</summary>
public abstract record ChatTurnEvent;

public sealed record ChatTurnDelta(string Text) : ChatTurnEvent;

public sealed record ChatTurnToolCall(ToolCallRecord Call) : ChatTurnEvent;

/// <summary>The last event: the turn is committed, and this is what the non-streaming call returns.</summary>
public sealed record ChatTurnDone(ChatTurnResult Result) : ChatTurnEvent;

public sealed partial class ChatAgent
{
    /// <summary>
    /// The same turn as <see cref="RunAsync(string, string, string, CancellationToken)"/>, told as the
    /// model streams it. It commits after the model is done, just before <see cref="ChatTurnDone"/>;
    /// a failure surfaces from the enumeration, and a consumer that stops early cancels the turn:
    /// either way nothing of it is stored.
    /// </summary>
    public async IAsyncEnumerable<ChatTurnEvent> StreamAsync(string userId, string sessionId, string message,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var channel = Channel.CreateUnbounded<ChatTurnEvent>(new UnboundedChannelOptions { SingleReader = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var turn = Produce();
        try
        {
            await foreach (var e in channel.Reader.ReadAllAsync(cancellationToken))
                yield return e;
        }
        finally
        {
            await stop.CancelAsync();
            await turn;
        }

        async Task Produce()
        {
            try
            {
                var result = await RunAsync(userId, sessionId, message, e => channel.Writer.WriteAsync(e, stop.Token), stop.Token);
                channel.Writer.TryWrite(new ChatTurnDone(result));
                channel.Writer.TryComplete();
            }
            catch (Exception e)
            {
                channel.Writer.TryComplete(e);
            }
        }
    }

    /// <summary>One streamed request (tool rounds included): text as it comes, each tool call once its result is in.</summary>
    private async Task<ChatResponse> StreamStepAsync(List<ChatMessage> messages, ChatOptions options, Func<ChatTurnEvent, ValueTask> emit, CancellationToken ct)
    {
        var updates = new List<ChatResponseUpdate>();
        var calls = new Dictionary<string, FunctionCallContent>(StringComparer.Ordinal);
        await foreach (var update in models!.Chat.GetStreamingResponseAsync(messages, options, ct))
        {
            updates.Add(update);
            foreach (var content in update.Contents)
            {
                switch (content)
                {
                    case TextContent { Text.Length: > 0 } text:
                        await emit(new ChatTurnDelta(text.Text));
                        break;
                    case FunctionCallContent call:
                        calls[call.CallId] = call;
                        break;
                    case FunctionResultContent result when calls.TryGetValue(result.CallId, out var call):
                        await emit(new ChatTurnToolCall(new ToolCallRecord(call.Name, Arguments(call), Result(call, result))));
                        break;
                }
            }
        }
        return updates.ToChatResponse();
    }
}
