using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using ServerlessMemory.Core;

namespace ServerlessMemory.Api;

/// <summary>
/// Gives every tool call of a model's answer an id of its own before the tool loop sees it. A model
/// may repeat an id or leave it out; the loop pairs calls with results by id, and the next request
/// must answer each call once, so a repeated or missing id is replaced by a fresh one (the model is
/// sent back the ids it is answered with, which is all it needs to tell its calls apart). A call
/// without any id cannot be read by the client: the request is made once more, then answered 503.
/// </summary>
internal sealed class ToolCallIdChatClient(IChatClient inner) : DelegatingChatClient(inner)
{
    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var list = messages as IList<ChatMessage> ?? [.. messages];
        ChatResponse response;
        try
        {
            response = await base.GetResponseAsync(list, options, cancellationToken);
        }
        catch (ArgumentNullException e) when (e.ParamName == "callId")
        {
            // No id at all: the client cannot even read the answer. Ask once more, then give up as a 503.
            try
            {
                response = await base.GetResponseAsync(list, options, cancellationToken);
            }
            catch (ArgumentNullException again) when (again.ParamName == "callId")
            {
                throw new ModelUnavailableException("The model answered with a tool call that has no id.", TimeSpan.FromSeconds(5), again);
            }
        }
        var used = new HashSet<string>(list.SelectMany(m => m.Contents).OfType<FunctionCallContent>().Select(c => c.CallId), StringComparer.Ordinal);
        foreach (var message in response.Messages)
        {
            for (var i = 0; i < message.Contents.Count; i++)
            {
                if (message.Contents[i] is not FunctionCallContent call || (!string.IsNullOrWhiteSpace(call.CallId) && used.Add(call.CallId))) continue;
                var id = $"call_{Guid.NewGuid():N}"[..24];
                used.Add(id);
                message.Contents[i] = new FunctionCallContent(id, call.Name, call.Arguments)
                {
                    Exception = call.Exception, AdditionalProperties = call.AdditionalProperties, RawRepresentation = call.RawRepresentation,
                };
                // The client would send the raw answer back as it came, with the faulty ids.
                message.RawRepresentation = null;
            }
        }
        return response;
    }

    /// <summary>The same for a streamed answer: each call's id is fixed in the update that carries it.</summary>
    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var list = messages as IList<ChatMessage> ?? [.. messages];
        var used = new HashSet<string>(list.SelectMany(m => m.Contents).OfType<FunctionCallContent>().Select(c => c.CallId), StringComparer.Ordinal);
        await foreach (var update in base.GetStreamingResponseAsync(list, options, cancellationToken))
        {
            for (var i = 0; i < update.Contents.Count; i++)
            {
                if (update.Contents[i] is not FunctionCallContent call || (!string.IsNullOrWhiteSpace(call.CallId) && used.Add(call.CallId))) continue;
                var id = $"call_{Guid.NewGuid():N}"[..24];
                used.Add(id);
                update.Contents[i] = new FunctionCallContent(id, call.Name, call.Arguments) { Exception = call.Exception };
                update.RawRepresentation = null;
            }
            yield return update;
        }
    }
}
