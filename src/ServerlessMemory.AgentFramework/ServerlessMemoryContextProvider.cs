using Microsoft.Agents.AI;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ServerlessMemory.Client;

namespace ServerlessMemory.AgentFramework;

/// <summary>How <see cref="ServerlessMemoryContextProvider"/> uses the service.</summary>
public sealed class ServerlessMemoryProviderOptions
{
    /// <summary>
    /// The service's session for every agent session; null (the default) gives each agent session
    /// its own id, kept in the session's state so that a saved and restored session keeps it.
    /// </summary>
    public string? SessionId { get; set; }

    /// <summary>Fits the memory text to this many tokens (o200k); null: the service's whole context.</summary>
    public int? ContextTokens { get; set; }

    /// <summary>Gives the model the memory tools, bound to the user, beside the memory text.</summary>
    public bool IncludeTools { get; set; } = true;

    /// <summary>After each run, sends its new user and assistant messages to <c>turns</c>, where extraction runs.</summary>
    public bool RecordTurns { get; set; } = true;

    /// <summary>
    /// By default a memory failure is logged and the run goes on without memory (as the service's
    /// own chat turn goes on without extraction); true makes it fail the run.
    /// </summary>
    public bool ThrowOnMemoryFailure { get; set; }

    /// <summary>The service's message limit: longer messages are cut to it before they are recorded.</summary>
    public int MaxMessageChars { get; set; } = 8_000;
}

/// <summary>
/// Long-term memory for a Microsoft Agent Framework agent: before each run it adds the user's memory
/// (core blocks, archive memories recalled for the new messages, the session summary: the
/// service's <c>context</c> text) to the instructions, and the memory tools as functions; after the
/// run it sends the run's new messages to the service's <c>turns</c>, which stores them and extracts
/// what to remember. Two requests per run, plus one for the tools' definitions on the first.
/// </summary>
public sealed partial class ServerlessMemoryContextProvider : AIContextProvider
{
    private readonly ServerlessMemoryClient _client;
    private readonly string _userId;
    private readonly ServerlessMemoryProviderOptions _options;
    private readonly ILogger _logger;
    private readonly ProviderSessionState<MemorySessionState> _state;
    private readonly Lock _gate = new();
    private Task<IList<AITool>>? _tools;

    public ServerlessMemoryContextProvider(ServerlessMemoryClient client, string userId, ServerlessMemoryProviderOptions? options = null,
        ILogger<ServerlessMemoryContextProvider>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentException.ThrowIfNullOrEmpty(userId);
        _client = client;
        _userId = userId;
        _options = options ?? new ServerlessMemoryProviderOptions();
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _state = new(_ => new MemorySessionState { SessionId = _options.SessionId ?? Guid.CreateVersion7().ToString("N") }, StateKeys[0], null);
    }

    /// <summary>The service's session id that this agent session's turns go to.</summary>
    public string GetSessionId(AgentSession? session) => session is null ? _options.SessionId ?? "default" : _state.GetOrInitializeState(session).SessionId;

    protected override async ValueTask<AIContext> ProvideAIContextAsync(InvokingContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        var said = string.Join("\n", (context.AIContext.Messages ?? []).Where(m => m.Role == ChatRole.User).Select(m => m.Text).Where(t => !string.IsNullOrWhiteSpace(t)));
        try
        {
            var memory = said.Length == 0
                ? null
                : _client.GetContextAsync(_userId, Cut(said), GetSessionId(context.Session), _options.ContextTokens, cancellationToken);
            var tools = _options.IncludeTools ? Tools() : null;
            return new AIContext
            {
                Instructions = memory is null ? null : (await memory.ConfigureAwait(false)).Text,
                Tools = tools is null ? null : await tools.ConfigureAwait(false),
            };
        }
        catch (Exception e) when (!_options.ThrowOnMemoryFailure && e is ServerlessMemoryException or HttpRequestException or TaskCanceledException
                                  && !cancellationToken.IsCancellationRequested)
        {
            LogContextFailed(_logger, e, _userId);
            return new AIContext();
        }
    }

    protected override async ValueTask StoreAIContextAsync(InvokedContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!_options.RecordTurns) return;
        var messages = context.RequestMessages.Concat(context.ResponseMessages ?? [])
            .Where(m => (m.Role == ChatRole.User || m.Role == ChatRole.Assistant) && !string.IsNullOrWhiteSpace(m.Text))
            .Select(m => new TurnMessage(m.Role == ChatRole.User ? "user" : "assistant", Cut(m.Text)))
            .ToList();
        if (messages.Count == 0) return;
        try
        {
            // The service takes at most 50 messages a turn; a longer run keeps its newest.
            var turn = await _client.RecordTurnAsync(_userId, messages.TakeLast(50), GetSessionId(context.Session), cancellationToken).ConfigureAwait(false);
            LogRecorded(_logger, _userId, turn.TurnId, turn.MemoryUpdates.Count);
        }
        catch (Exception e) when (!_options.ThrowOnMemoryFailure && e is ServerlessMemoryException or HttpRequestException or TaskCanceledException
                                  && !cancellationToken.IsCancellationRequested)
        {
            LogRecordFailed(_logger, e, _userId);
        }
    }

    /// <summary>The text's first <see cref="ServerlessMemoryProviderOptions.MaxMessageChars"/> characters, counted as the service counts them (Unicode scalar values), never half a surrogate pair.</summary>
    private string Cut(string text)
    {
        if (text.Length <= _options.MaxMessageChars) return text;
        var (characters, end) = (0, 0);
        foreach (var rune in text.EnumerateRunes())
        {
            if (characters++ == _options.MaxMessageChars) break;
            end += rune.Utf16SequenceLength;
        }
        return text[..end];
    }

    /// <summary>The tools' definitions, read once; a failed read is tried again on the next run.</summary>
    private Task<IList<AITool>> Tools()
    {
        lock (_gate)
        {
            if (_tools is null || _tools.IsFaulted || _tools.IsCanceled)
                _tools = ServerlessMemoryTools.GetAIFunctionsAsync(_client, _userId, CancellationToken.None);
            return _tools;
        }
    }

    /// <summary>What the provider keeps in an agent session: which service session its turns go to.</summary>
    public sealed class MemorySessionState
    {
        public string SessionId { get; set; } = "";
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Memory context for {UserId} failed; the run goes on without it")]
    private static partial void LogContextFailed(ILogger logger, Exception exception, string userId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recording the run of {UserId} in memory failed; it is not remembered")]
    private static partial void LogRecordFailed(ILogger logger, Exception exception, string userId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Recorded turn {TurnId} of {UserId}: {MemoryUpdates} memory updates")]
    private static partial void LogRecorded(ILogger logger, string userId, string turnId, int memoryUpdates);
}
