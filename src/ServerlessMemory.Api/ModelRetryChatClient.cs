using System.ClientModel;
using System.Globalization;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using ServerlessMemory.Core;

namespace ServerlessMemory.Api;

/// <summary>
/// Retries a model request that failed for a passing reason (429, 5xx, a timeout), waiting what the
/// service's <c>Retry-After</c> asks when it asks for a bounded wait; otherwise, and when retries
/// run out, throws <see cref="ModelUnavailableException"/>, which the API answers with a 503.
/// Waits in real time: a backoff is no part of the memory model's clock.
/// </summary>
internal sealed class ModelRetryChatClient(IChatClient inner, int maxRetries, TimeSpan maxDelay, TimeProvider time) : DelegatingChatClient(inner)
{
    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var list = messages as IList<ChatMessage> ?? [.. messages];
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                var response = await base.GetResponseAsync(list, options, cancellationToken);
                KeepRawArguments(response);
                return response;
            }
            catch (Exception e) when (Transient(e, cancellationToken) is { } failure)
            {
                var wait = failure.RetryAfter ?? TimeSpan.FromMilliseconds(250 * Math.Pow(2, attempt) + Random.Shared.Next(100));
                if (attempt >= maxRetries || wait > maxDelay)
                    throw new ModelUnavailableException("The model is unavailable; try again later.", failure.RetryAfter, e);
                await Task.Delay(wait, time, cancellationToken);
            }
        }
    }

    /// <summary>
    /// Streams with the same retries, but only until the first update: after it the caller has seen
    /// part of an answer, so a failure is final (a 503 problem, or the stream's error event).
    /// </summary>
    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var list = messages as IList<ChatMessage> ?? [.. messages];
        var started = false;
        for (var attempt = 0; ; attempt++)
        {
            var updates = base.GetStreamingResponseAsync(list, options, cancellationToken).GetAsyncEnumerator(cancellationToken);
            try
            {
                while (true)
                {
                    Failure? failure = null;
                    Exception? error = null;
                    try
                    {
                        if (!await updates.MoveNextAsync()) yield break;
                    }
                    catch (Exception e) when (Transient(e, cancellationToken) is { } f)
                    {
                        (failure, error) = (f, e);
                    }
                    if (failure is not null)
                    {
                        var wait = failure.RetryAfter ?? TimeSpan.FromMilliseconds(250 * Math.Pow(2, attempt) + Random.Shared.Next(100));
                        if (started || attempt >= maxRetries || wait > maxDelay)
                            throw new ModelUnavailableException("The model is unavailable; try again later.", failure.RetryAfter, error);
                        await Task.Delay(wait, time, cancellationToken);
                        break;
                    }
                    started = true;
                    yield return updates.Current;
                }
            }
            finally
            {
                await updates.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// A call whose arguments did not parse keeps their raw text, so the turn can show what the model
    /// sent. Arguments holding a lone surrogate are no text: such a call is malformed too (it could
    /// not even be sent back to the model), and the tool loop answers it with an error.
    /// </summary>
    private static void KeepRawArguments(ChatResponse response)
    {
        foreach (var message in response.Messages)
            foreach (var call in message.Contents.OfType<FunctionCallContent>())
            {
                if (call.Exception is null && InvalidText(call.Arguments) is { } invalid)
                {
                    call.Exception = new FormatException(invalid);
                    call.Arguments = null;
                }
                if (call.Exception is null) continue;
                var raw = call.RawRepresentation as OpenAI.Chat.ChatToolCall
                          ?? (message.RawRepresentation as OpenAI.Chat.ChatCompletion)?.ToolCalls.FirstOrDefault(t => t.Id == call.CallId)
                          ?? (response.RawRepresentation as OpenAI.Chat.ChatCompletion)?.ToolCalls.FirstOrDefault(t => t.Id == call.CallId);
                if (raw?.FunctionArguments is { } arguments)
                    (call.AdditionalProperties ??= [])[ToolCallRecord.RawArgumentsKey] = arguments.ToString();
            }
    }

    private static string? InvalidText(IDictionary<string, object?>? arguments)
    {
        foreach (var (name, value) in arguments ?? new Dictionary<string, object?>())
        {
            try
            {
                if (value is System.Text.Json.JsonElement element) RequestBody.CheckText(element, name);
                else if (value is string s && s.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF') >= 0 && !System.Text.Unicode.Utf8.IsValid(System.Text.Encoding.UTF8.GetBytes(s)))
                    return $"'{name}' is not valid Unicode text.";
            }
            catch (MemoryValidationException e)
            {
                return e.Message;
            }
        }
        return null;
    }

    private sealed record Failure(TimeSpan? RetryAfter);

    private static Failure? Transient(Exception e, CancellationToken cancellationToken) => e switch
    {
        ClientResultException { Status: 429 or 408 or >= 500 } c => new(RetryAfter(c)),
        ClientResultException { Status: 0 } => new(null), // no response at all
        HttpRequestException => new(null),
        IOException => new(null), // a connection dropped while reading the answer
        OperationCanceledException when !cancellationToken.IsCancellationRequested => new(null), // the client's own timeout
        _ => null,
    };

    private static TimeSpan? RetryAfter(ClientResultException e)
    {
        var headers = e.GetRawResponse()?.Headers;
        if (headers is null) return null;
        if (headers.TryGetValue("retry-after-ms", out var ms) && double.TryParse(ms, CultureInfo.InvariantCulture, out var millis))
            return TimeSpan.FromMilliseconds(millis);
        if (!headers.TryGetValue("Retry-After", out var value) || value is null) return null;
        if (double.TryParse(value, CultureInfo.InvariantCulture, out var seconds)) return TimeSpan.FromSeconds(seconds);
        return DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)
            ? at - DateTimeOffset.UtcNow
            : null;
    }
}
