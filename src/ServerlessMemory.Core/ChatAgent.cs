using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ServerlessMemory.Core;

/// <summary>The models a turn uses: the main model with tool calling, and the small one for extraction and summaries.</summary>
public sealed record ChatModels(IChatClient Chat, IChatClient Extraction, string ChatModel, string ExtractionModel);

/// <summary>
/// A tool call of the turn: its arguments (an object; the model's raw string when that was not a
/// JSON object) and its result, always an object, <c>{ "error": … }</c> when the call failed.
/// </summary>
public sealed record ToolCallRecord(string Name, JsonNode? Arguments, JsonObject Result)
{
    /// <summary>Where a model client keeps the raw argument text of a call whose arguments did not parse.</summary>
    public const string RawArgumentsKey = "serverlessMemory.rawArguments";
}

public sealed record TurnUsage(int ModelCalls, long PromptTokens, long CompletionTokens);

public sealed record ChatTurnResult(
    string TurnId, string Reply, IReadOnlyList<ToolCallRecord> ToolCalls, IReadOnlyList<MemoryUpdate> MemoryUpdates,
    IReadOnlyList<string> Recalled, TurnUsage Usage);

/// <summary>
/// A chat turn, the seed's <c>LayeredMemoryAgent.chat</c> done right: memory is loaded in parallel,
/// extraction runs beside the main call instead of before it, every tool result goes back to the
/// model, and the turn's writes commit together at the end, or not at all.
/// </summary>
public sealed partial class ChatAgent(MemoryEngine engine, IOptions<ChatTurnOptions> options, ILogger<ChatAgent> logger, ChatModels? models = null)
{
    private readonly ChatTurnOptions _options = options.Value;

    public bool IsConfigured => models is not null;

    public Task<ChatTurnResult> RunAsync(string userId, string sessionId, string message, CancellationToken cancellationToken = default) =>
        RunAsync(userId, sessionId, message, emit: null, cancellationToken);

    /// <param name="emit">Told each piece of the answer as the model streams it (null: one non-streaming call per step).</param>
    private async Task<ChatTurnResult> RunAsync(string userId, string sessionId, string message, Func<ChatTurnEvent, ValueTask>? emit, CancellationToken cancellationToken)
    {
        if (models is null) throw new ModelNotConfiguredException(NotConfigured);
        CheckMessage("message", message);

        using var activity = MemoryTelemetry.StartTurn(sessionId);
        var cost = MemoryTelemetry.BeginTurnCost();
        try
        {
            var turn = await WithTurnTimeoutAsync(ct => RunTurnAsync(userId, sessionId, message, emit, ct, cancellationToken), cancellationToken);
            MemoryTelemetry.EndTurn(activity, turn, cost, engine.Store.Name);
            return turn;
        }
        catch (Exception e)
        {
            MemoryTelemetry.Fail(activity, e);
            throw;
        }
    }

    /// <param name="ct">The turn's deadline (<see cref="ChatTurnOptions.TurnTimeout"/>): the models' calls end by it.</param>
    /// <param name="request">The caller's own token: the commit of a reply that is ready runs on it (and the store's own deadline), not on the turn's.</param>
    private async Task<ChatTurnResult> RunTurnAsync(string userId, string sessionId, string message, Func<ChatTurnEvent, ValueTask>? emit,
        CancellationToken ct, CancellationToken request)
    {
        var clock = Stopwatch.StartNew();
        var turnId = Guid.CreateVersion7().ToString("N");
        // 1. Memory, all at once: core, the session's recent history and summary, recalled archive items.
        var loaded = await LoadAsync(userId, sessionId, message, history: true, ct);
        var (work, session, recalled) = (loaded.Work, loaded.Session, loaded.Recalled);
        var coreView = await work.GetCoreAsync(ct);

        // 2. The prompt, inside its budget.
        var system = Prompt.System(coreView, recalled, session?.Summary);
        var (window, leaving) = Plan(loaded.History, session, _options.PromptTokens - Prompt.CountTokens(system) - Prompt.CountTokens(message));

        // 3. Extraction beside the main call (the seed waits for it first); a summary fold beside both.
        // Helpers get what is left of the turn's deadline: when it runs out their work is dropped, not the reply.
        var extraction = ExtractAsync(coreView, message, recalled, ct, request);
        if (_options.SequentialExtraction) await extraction.ContinueWith(_ => { }, TaskScheduler.Default);
        var fold = FoldIfLeavingAsync(session, leaving, ct, request);
        var main = MainAsync(Prompt.Messages(system, window, message), work, emit, ct);

        ChatResponse response;
        try
        {
            response = await main;
        }
        finally
        {
            await Task.WhenAll(extraction, fold).ContinueWith(_ => { }, TaskScheduler.Default);
        }

        // The unit of work is single-threaded: extraction's proposals apply after the tool loop.
        var (extracted, extractionUsage) = await extraction;
        await ApplyExtractionAsync(work, extracted, userId, recalled, ct);
        var (folded, foldUsage) = await fold;
        if (folded is not null) work.SetSession(folded);

        var reply = ValidText(response.Text);
        if (!Characters.Fit(reply, engine.Limits.ReplyChars))
            throw new ModelFailedException($"The chat model's reply has {Characters.Count(reply)} characters; at most {engine.Limits.ReplyChars} are kept (Memory__Limits__ReplyChars).");
        work.AddMessage("user", message, turnId);
        work.AddMessage("assistant", reply, turnId);
        var updates = work.Updates.ToList();
        // Everything the answer reports is made before the commit: once committed, the turn cannot fail.
        var calls = ToolCalls(response);
        await work.CommitAsync(request);
        // An archive add a concurrent request stored first is reported as the duplicate it is.
        calls = [.. calls.Select(c => c with { Result = (JsonObject)MemoryTools.Committed(c.Result, work) })];

        var usage = new TurnUsage(
            response.Messages.Count(m => m.Role == ChatRole.Assistant) + (extractionUsage is null ? 0 : 1) + (foldUsage is null ? 0 : 1),
            (response.Usage?.InputTokenCount ?? 0) + (extractionUsage?.InputTokenCount ?? 0) + (foldUsage?.InputTokenCount ?? 0),
            (response.Usage?.OutputTokenCount ?? 0) + (extractionUsage?.OutputTokenCount ?? 0) + (foldUsage?.OutputTokenCount ?? 0));
        LogTurn(logger, userId, sessionId, turnId, calls.Count, updates.Count, usage.ModelCalls, usage.PromptTokens, clock.ElapsedMilliseconds);
        return new(turnId, reply, calls, updates, [.. recalled.Select(r => r.Item.Id)], usage);
    }

    public const string NotConfigured = "No chat model is configured: set Model__Provider (and Model__Endpoint, Model__ChatModel) to chat.";

    /// <summary>
    /// The main model's answer, streamed or not: the same checks either way, so that a streamed turn
    /// fails as the JSON one does (an empty or unreadable answer is a <see cref="ModelFailedException"/>).
    /// </summary>
    /// <param name="emit">Told each piece of the answer as the model streams it; null: one non-streaming call per step.</param>
    private async Task<ChatResponse> MainAsync(List<ChatMessage> messages, MemoryUnitOfWork work, Func<ChatTurnEvent, ValueTask>? emit, CancellationToken ct)
    {
        ChatResponse response;
        try
        {
            var chatOptions = new ChatOptions { ModelId = models!.ChatModel, Tools = MemoryTools.AsAITools(work), ToolMode = ChatToolMode.Auto };
            response = await StepAsync(messages, chatOptions, emit, ct);
            if (string.IsNullOrWhiteSpace(response.Text))
            {
                // The step limit ended the loop on a tool call: ask once more for an answer, without tools.
                var final = await StepAsync([.. messages, .. response.Messages], new ChatOptions { ModelId = models.ChatModel }, emit, ct);
                var usage = response.Usage ?? new UsageDetails();
                if (final.Usage is not null) usage.Add(final.Usage);
                response = new ChatResponse([.. response.Messages, .. final.Messages]) { Usage = usage };
            }
        }
        catch (Exception e) when (e is not (ModelUnavailableException or ModelFailedException or OperationCanceledException))
        {
            // An error status, a body that is no chat completion, a call the client cannot read: the model failed, not the request.
            throw new ModelFailedException("The chat model's answer could not be used.", e);
        }
        // An answer of tool calls only is no reply: storing an empty message would teach the window nothing.
        return string.IsNullOrWhiteSpace(response.Text)
            ? throw new ModelFailedException("The chat model ended the turn without a reply.")
            : response;
    }

    private Task<ChatResponse> StepAsync(List<ChatMessage> messages, ChatOptions options, Func<ChatTurnEvent, ValueTask>? emit, CancellationToken ct) =>
        emit is null ? models!.Chat.GetResponseAsync(messages, options, ct) : StreamStepAsync(messages, options, emit, ct);

    /// <summary>A model's text with any lone surrogate replaced (U+FFFD): it is stored and sent as UTF-8.</summary>
    private static string ValidText(string text) =>
        text.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF') < 0 ? text : Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(text));

    private async Task<(string? Json, UsageDetails? Usage)> ExtractAsync(CoreMemory core, string message, IReadOnlyList<ScoredItem> recalled,
        CancellationToken ct, CancellationToken request)
    {
        try
        {
            return await ExtractOrThrowAsync(core, message, recalled, ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested && !request.IsCancellationRequested)
        {
            LogExtractionOutOfTime(logger, _options.TurnTimeout.TotalSeconds);
            return (null, null);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            // Extraction is a helper: the turn answers without it rather than fail.
            LogExtractionFailed(logger, e);
            return (null, null);
        }
    }

    private async Task<(SessionState?, UsageDetails?)> FoldAsync(SessionState? session, List<ConversationMessage> leaving, CancellationToken ct, CancellationToken request)
    {
        try
        {
            var transcript = string.Join('\n', leaving.Select(m => $"{m.Role}: {m.Content}"));
            var response = await models!.Extraction.GetResponseAsync(
            [
                new(ChatRole.System, "Fold these messages into the running summary of a conversation. Keep names, facts, decisions and open questions; drop small talk. Answer with the new summary only, under 200 words, in the conversation's language."),
                new(ChatRole.User, $"Summary so far:\n{session?.Summary ?? "(none)"}\n\nMessages leaving the window:\n{transcript}"),
            ], new ChatOptions { ModelId = models.ExtractionModel, Temperature = 0 }, ct);
            var summary = Prompt.Tail(response.Text.Trim(), _options.SummaryTokens);
            return (new SessionState(leaving[0].SessionId, summary, leaving[^1].CreatedAt, session?.ETag), response.Usage ?? new UsageDetails());
        }
        catch (Exception e) when (e is not OperationCanceledException || !request.IsCancellationRequested)
        {
            // Failed or out of the turn's time: the next turn folds again.
            LogFoldFailed(logger, e);
            return (null, null);
        }
    }

    /// <summary>
    /// Each call with its result, as JSON. Calls and results are paired by id in order, so that ids
    /// a model repeated or left out still pair each call with its own result and never throw.
    /// </summary>
    private static List<ToolCallRecord> ToolCalls(ChatResponse response)
    {
        var results = new Dictionary<string, Queue<FunctionResultContent>>(StringComparer.Ordinal);
        foreach (var r in response.Messages.SelectMany(m => m.Contents).OfType<FunctionResultContent>())
        {
            if (!results.TryGetValue(r.CallId ?? "", out var queue)) results[r.CallId ?? ""] = queue = new();
            queue.Enqueue(r);
        }
        return
        [
            .. response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>().Select(c =>
            {
                var result = results.TryGetValue(c.CallId ?? "", out var queue) && queue.Count > 0 ? queue.Dequeue() : null;
                return new ToolCallRecord(c.Name, Arguments(c), Result(c, result));
            }),
        ];
    }

    /// <summary>The call's arguments as JSON, or the raw text the model sent when they did not parse.</summary>
    private static JsonNode? Arguments(FunctionCallContent call) => call.Exception is null ? ToJson(call.Arguments)
        : call.AdditionalProperties?.GetValueOrDefault(ToolCallRecord.RawArgumentsKey) is string raw ? JsonValue.Create(raw) : null;

    private static JsonNode? ToJson(object? value)
    {
        try
        {
            return value switch
            {
                null => null,
                JsonNode node => node.DeepClone(),
                JsonElement element => JsonNode.Parse(element.GetRawText()),
                _ => JsonSerializer.SerializeToNode(value, AIJsonUtilities.DefaultOptions),
            };
        }
        catch (Exception e) when (e is JsonException or NotSupportedException)
        {
            return JsonValue.Create(value?.ToString());
        }
    }

    /// <summary>Always an object: the tool's result, or <c>{ "error": … }</c> for a call that failed or was not run.</summary>
    private static JsonObject Result(FunctionCallContent call, FunctionResultContent? result)
    {
        if (call.Exception is not null) return Error($"The arguments could not be read: {call.Exception.Message.Split('\n', 2)[0]}");
        return result?.Result switch
        {
            JsonObject o => (JsonObject)o.DeepClone(),
            JsonElement { ValueKind: JsonValueKind.Object } e => JsonNode.Parse(e.GetRawText())!.AsObject(),
            // The tool loop answers an unknown tool or a failed call with a string for the model.
            string s => Error(s.StartsWith("Error: ", StringComparison.Ordinal) ? s["Error: ".Length..] : s),
            null => Error(result?.Exception is null ? "The tool gave no result." : "The tool failed."),
            var other => ToJson(other) is JsonObject o ? o : Error(other.ToString() ?? "The tool failed."),
        };
    }

    private static JsonObject Error(string message) => new() { ["error"] = message };

    [LoggerMessage(Level = LogLevel.Information, Message = "Turn {TurnId} of {UserId}/{SessionId}: {ToolCalls} tool calls, {MemoryUpdates} memory updates, {ModelCalls} model calls, {PromptTokens} prompt tokens, {ElapsedMs} ms")]
    private static partial void LogTurn(ILogger logger, string userId, string sessionId, string turnId, int toolCalls, int memoryUpdates, int modelCalls, long promptTokens, long elapsedMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Memory extraction failed; the turn goes on without it")]
    private static partial void LogExtractionFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Memory extraction did not answer within the turn's {TurnTimeoutSeconds} s; its proposals are dropped and the reply is kept")]
    private static partial void LogExtractionOutOfTime(ILogger logger, double turnTimeoutSeconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Folding the session summary failed; the next turn tries again")]
    private static partial void LogFoldFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Dropped {Dropped} extracted memories of {UserId} that broke a rule")]
    private static partial void LogDropped(ILogger logger, int dropped, string userId);
}
