using Microsoft.Extensions.AI;

namespace ServerlessMemory.Core;

/// <summary>What a prompt needs from memory: the blocks, the recalled memories, the session's summary, and all of it as one system text.</summary>
public sealed record MemoryContext(
    string SessionId, CoreMemory Core, IReadOnlyList<ScoredItem> Recalled, string? Summary, string Text, int Tokens);

/// <summary>A message of a conversation run elsewhere, to be remembered.</summary>
public sealed record TurnMessage(string Role, string Content);

public sealed record IngestResult(string TurnId, IReadOnlyList<MemoryUpdate> MemoryUpdates, TurnUsage Usage);

/// <summary>
/// The two halves of a chat turn without its main model call, for agents that run their own loop:
/// the memory that goes into the prompt before it, and extraction and storage after it. Both use the
/// very code paths <see cref="RunAsync"/> uses.
/// </summary>
public sealed partial class ChatAgent
{
    /// <summary>The most messages one ingested turn may carry.</summary>
    public const int MaxTurnMessages = 50;

    /// <summary>
    /// Core memory, the archive memories recalled for <paramref name="message"/> (ranked and counted as
    /// accessed, as a chat turn does), the session's summary and the system text a chat turn would use.
    /// With <paramref name="tokens"/>, the text is fitted: the summary is cut first, from its oldest end
    /// (an agent with its own loop holds the conversation itself), then the lowest-ranked recalled
    /// memories are left out (and not counted as accessed); core memory and the instructions are never cut.
    /// </summary>
    public async Task<MemoryContext> GetContextAsync(string userId, string sessionId, string message, int? tokens, CancellationToken cancellationToken = default)
    {
        CheckMessage("message", message);
        var loaded = await LoadAsync(userId, sessionId, message, history: false, cancellationToken);
        var core = await loaded.Work.GetCoreAsync(cancellationToken);
        var recalled = loaded.Recalled.ToList();
        var summary = loaded.Session?.Summary;
        var text = Prompt.System(core, recalled, summary);

        if (tokens is { } budget && Prompt.CountTokens(text) > budget)
        {
            var floor = Prompt.CountTokens(Prompt.System(core, [], null));
            if (floor > budget)
                throw new MemoryValidationException("tokens", $"'tokens' is {budget}; the instructions and core memory alone take {floor}.");
            while (recalled.Count > 0 && Prompt.CountTokens(Prompt.System(core, recalled, null)) > budget)
            {
                loaded.Work.ForgetAccess(recalled[^1].Item.Id);
                recalled.RemoveAt(recalled.Count - 1);
            }
            text = Prompt.System(core, recalled, summary);
            // Keep the summary's newest part that fits; each pass cuts by what is still over.
            for (var keep = Prompt.CountTokens(summary ?? ""); summary is not null && Prompt.CountTokens(text) > budget;)
            {
                keep -= Prompt.CountTokens(text) - budget;
                summary = keep > 0 ? Prompt.Tail(summary, keep) : null;
                text = Prompt.System(core, recalled, summary);
            }
        }

        await loaded.Work.CommitAsync(cancellationToken);
        return new(sessionId, core, recalled, summary, text, Prompt.CountTokens(text));
    }

    /// <summary>
    /// Stores a turn run elsewhere as a chat turn stores its own: the messages join the session (the
    /// window, the summary fold, <c>search_conversation</c>) and extraction runs on them. Only the
    /// extraction model is called. All or nothing: if extraction fails, nothing is stored.
    /// </summary>
    public async Task<IngestResult> IngestAsync(string userId, string sessionId, IReadOnlyList<TurnMessage> messages, CancellationToken cancellationToken = default)
    {
        if (messages.Count is 0 or > MaxTurnMessages)
            throw new MemoryValidationException("messages", $"'messages' holds 1 to {MaxTurnMessages} messages.");
        for (var i = 0; i < messages.Count; i++)
        {
            if (messages[i].Role is not ("user" or "assistant"))
                throw new MemoryValidationException($"messages[{i}].role", "A message's 'role' is 'user' or 'assistant'.");
            CheckMessage($"messages[{i}].content", messages[i].Content);
        }
        if (models is null) throw new ModelNotConfiguredException("No extraction model is configured: set Model__Provider (and Model__Endpoint, Model__ExtractionModel).");
        return await WithTurnTimeoutAsync(ct => IngestTurnAsync(userId, sessionId, messages, ct), cancellationToken);
    }

    private async Task<IngestResult> IngestTurnAsync(string userId, string sessionId, IReadOnlyList<TurnMessage> messages, CancellationToken ct)
    {
        var turnId = Guid.CreateVersion7().ToString("N");
        var loaded = await LoadAsync(userId, sessionId, recallQuery: null, history: true, ct);
        var work = loaded.Work;
        var core = await work.GetCoreAsync(ct);

        var system = Prompt.System(core, [], loaded.Session?.Summary);
        var (_, leaving) = Plan(loaded.History, loaded.Session,
            _options.PromptTokens - Prompt.CountTokens(system) - messages.Sum(m => Prompt.CountTokens(m.Content) + 4));

        var said = messages is [{ Role: "user" } only] ? only.Content : string.Join("\n\n", messages.Select(m => $"{m.Role}: {m.Content}"));
        var extraction = ExtractOrThrowAsync(core, said, [], ct);
        var fold = FoldIfLeavingAsync(loaded.Session, leaving, ct, ct);
        try
        {
            await extraction;
        }
        finally
        {
            await fold.ContinueWith(_ => { }, TaskScheduler.Default);
        }

        var (extracted, extractionUsage) = await extraction;
        await ApplyExtractionAsync(work, extracted, userId, [], ct);
        var (folded, foldUsage) = await fold;
        if (folded is not null) work.SetSession(folded);
        foreach (var m in messages) work.AddMessage(m.Role, m.Content, turnId);
        var updates = work.Updates.ToList();
        await work.CommitAsync(ct);

        var usage = new TurnUsage(1 + (foldUsage is null ? 0 : 1),
            (extractionUsage.InputTokenCount ?? 0) + (foldUsage?.InputTokenCount ?? 0),
            (extractionUsage.OutputTokenCount ?? 0) + (foldUsage?.OutputTokenCount ?? 0));
        LogIngested(logger, userId, sessionId, turnId, messages.Count, updates.Count, usage.ModelCalls);
        return new(turnId, updates, usage);
    }

    private sealed record Loaded(
        MemoryUnitOfWork Work, IReadOnlyList<ConversationMessage> History, SessionState? Session, IReadOnlyList<ScoredItem> Recalled);

    /// <summary>Memory, all at once: core, the session's recent history and summary, recalled archive items.</summary>
    private async Task<Loaded> LoadAsync(string userId, string sessionId, string? recallQuery, bool history, CancellationToken ct)
    {
        var work = engine.Begin(userId, sessionId);
        if (models is not null) work.Rewriter ??= new BlockRewriter(models.Extraction, models.ExtractionModel);
        var coreTask = engine.Store.GetCoreAsync(userId, ct);
        var historyTask = history
            ? engine.Store.ListMessagesAsync(userId, sessionId, _options.WindowMessages * 2, null, ct)
            : Task.FromResult(new Page<ConversationMessage>([], null));
        var sessionTask = engine.Store.GetSessionAsync(userId, sessionId, ct);
        var recallTask = recallQuery is null ? Task.FromResult<IReadOnlyList<ScoredItem>>([]) : work.SearchArchiveAsync(recallQuery, _options.RecallTop, ct);
        await Task.WhenAll(coreTask, historyTask, sessionTask, recallTask);
        work.UseCore(coreTask.Result);
        return new(work, historyTask.Result.Items, sessionTask.Result, recallTask.Result);
    }

    /// <summary>The window that fits <paramref name="tokensLeft"/>, and the older messages leaving it that the summary does not hold yet (oldest first).</summary>
    private (List<ConversationMessage> Window, List<ConversationMessage> Leaving) Plan(
        IReadOnlyList<ConversationMessage> history, SessionState? session, int tokensLeft)
    {
        var window = Prompt.Window(history, _options.WindowMessages, Math.Max(0, tokensLeft - 8));
        var leaving = history.Skip(window.Count)
            .Where(m => session?.SummarizedThrough is not { } through || m.CreatedAt > through)
            .Reverse().ToList();
        return (window, leaving);
    }

    private Task<(SessionState?, UsageDetails?)> FoldIfLeavingAsync(SessionState? session, List<ConversationMessage> leaving, CancellationToken ct, CancellationToken request) =>
        leaving.Count > 0 ? FoldAsync(session, leaving, ct, request) : Task.FromResult<(SessionState?, UsageDetails?)>((null, null));

    private async Task ApplyExtractionAsync(MemoryUnitOfWork work, string? extracted, string userId, IReadOnlyList<ScoredItem> shown, CancellationToken ct)
    {
        if (extracted is null) return;
        var rules = new ExtractionRules(_options.ExtractionExcludedBlocks, _options.ExtractionMaxItems)
        {
            Shown = shown.Where(s => s.Item.SupersededAt is null).ToDictionary(s => s.Item.Id, StringComparer.Ordinal),
        };
        var dropped = await MemoryExtraction.ApplyAsync(work, extracted, rules, ct);
        if (dropped > 0) LogDropped(logger, dropped, userId);
    }

    private async Task<(string Json, UsageDetails Usage)> ExtractOrThrowAsync(CoreMemory core, string said, IReadOnlyList<ScoredItem> shown, CancellationToken ct)
    {
        try
        {
            var response = await models!.Extraction.GetResponseAsync(MemoryExtraction.Request(core, said, _options.ExtractionExcludedBlocks, [.. shown.Select(s => s.Item)]), MemoryExtraction.Options(models.ExtractionModel), ct);
            return (response.Text, response.Usage ?? new UsageDetails());
        }
        catch (Exception e) when (e is not ModelUnavailableException && !(e is OperationCanceledException && ct.IsCancellationRequested))
        {
            throw new ModelUnavailableException("The extraction model failed; nothing was stored.", null, e);
        }
    }

    private async Task<T> WithTurnTimeoutAsync<T>(Func<CancellationToken, Task<T>> run, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.TurnTimeout);
        try
        {
            return await run(timeout.Token);
        }
        catch (OperationCanceledException e) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new ModelUnavailableException($"The turn took longer than {_options.TurnTimeout.TotalSeconds:F0} s; nothing was changed.", null, e);
        }
    }

    private void CheckMessage(string field, string? message)
    {
        if (string.IsNullOrWhiteSpace(message)) throw new MemoryValidationException(field, $"'{field}' must not be empty.");
        Characters.AtMost(message, engine.Limits.MessageChars, field);
    }

    [Microsoft.Extensions.Logging.LoggerMessage(Level = Microsoft.Extensions.Logging.LogLevel.Information,
        Message = "Ingested turn {TurnId} of {UserId}/{SessionId}: {Messages} messages, {MemoryUpdates} memory updates, {ModelCalls} model calls")]
    private static partial void LogIngested(Microsoft.Extensions.Logging.ILogger logger, string userId, string sessionId, string turnId, int messages, int memoryUpdates, int modelCalls);
}
