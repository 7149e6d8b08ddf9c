using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace ServerlessMemory.Tests.Api;

/// <summary>One log entry as a provider received it: the formatted message and every structured value.</summary>
public sealed record CapturedLog(LogLevel Level, string Category, string Message, IReadOnlyList<KeyValuePair<string, object?>> Values, Exception? Exception)
{
    /// <summary>Everything a provider could write for this entry.</summary>
    public string AllText => string.Join(" | ", [Message, .. Values.Select(v => $"{v.Key}={v.Value}"), Exception?.ToString() ?? ""]);

    public override string ToString() => $"{Level} {Category}: {Message}";
}

/// <summary>A logger provider that keeps what the service logs, for tests that assert on logs.</summary>
public sealed class CapturedLogs : ILoggerProvider
{
    private readonly ConcurrentQueue<CapturedLog> _entries = new();

    public IReadOnlyList<CapturedLog> Entries => [.. _entries];

    public IReadOnlyList<CapturedLog> AtLeast(LogLevel level) => [.. _entries.Where(e => e.Level >= level)];

    public void Clear() => _entries.Clear();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose() { }

    private sealed class Logger(CapturedLogs logs, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            logs._entries.Enqueue(new(logLevel, category, formatter(state, exception),
                state is IEnumerable<KeyValuePair<string, object?>> pairs ? [.. pairs] : [], exception));
    }
}
