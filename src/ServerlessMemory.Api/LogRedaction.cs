using System.Collections;
using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ServerlessMemory.Api;

/// <summary>
/// Takes keys out of log text: the values of key-bearing query parameters (<c>?code=</c>, as Azure
/// Functions takes keys) and the configured keys themselves, wherever they appear.
/// </summary>
public sealed partial class LogRedactor(IConfiguration configuration)
{
    public const string Mask = "***";

    /// <summary>Settings that hold secrets; their values never reach a log line.</summary>
    public static readonly string[] SecretSettings = ["Auth:ApiKey", "Auth:AdminKey", "Model:ApiKey", "Cosmos:Key"];

    public string Redact(string text)
    {
        if (text.Length == 0) return text;
        var redacted = KeyParameter().Replace(text, Mask);
        foreach (var setting in SecretSettings)
            if (configuration[setting] is { Length: >= 6 } secret)
                redacted = redacted.Replace(secret, Mask, StringComparison.Ordinal);
        return redacted;
    }

    [GeneratedRegex(@"(?<=(?:^|[?&;\s])(?:code|key|api[-_]?key|apikey|x-functions-key|sig)=)[^&\s""'<>]+", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex KeyParameter();
}

/// <summary>
/// The logger factory both hosts use: the standard one, with every entry's message and structured
/// values passed through <see cref="LogRedactor"/> before any provider sees it. The request-starting
/// line of ASP.NET Core logs the query string, and <c>?code=</c> carries a key.
/// </summary>
internal sealed class RedactingLoggerFactory : ILoggerFactory
{
    private readonly LoggerFactory _inner;
    private readonly LogRedactor _redactor;
    private readonly ConcurrentDictionary<string, ILogger> _loggers = new(StringComparer.Ordinal);

    public RedactingLoggerFactory(IEnumerable<ILoggerProvider> providers, IOptionsMonitor<LoggerFilterOptions> filter,
        IOptions<LoggerFactoryOptions> options, IConfiguration configuration, IExternalScopeProvider? scopes = null)
    {
        _inner = new LoggerFactory(providers, filter, options, scopes);
        _redactor = new LogRedactor(configuration);
    }

    public ILogger CreateLogger(string categoryName) =>
        _loggers.GetOrAdd(categoryName, name => new RedactingLogger(_inner.CreateLogger(name), _redactor));

    public void AddProvider(ILoggerProvider provider) => _inner.AddProvider(provider);

    public void Dispose() => _inner.Dispose();

    private sealed class RedactingLogger(ILogger inner, LogRedactor redactor) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!inner.IsEnabled(logLevel)) return;
            var entry = new RedactedState(redactor.Redact(formatter(state, exception)), Values(state));
            inner.Log(logLevel, eventId, entry, Redacted(exception), static (s, _) => s.Message);
        }

        private List<KeyValuePair<string, object?>> Values<TState>(TState state)
        {
            if (state is not IEnumerable<KeyValuePair<string, object?>> pairs) return [];
            var values = new List<KeyValuePair<string, object?>>();
            foreach (var (key, value) in pairs)
                values.Add(new(key, key == "{OriginalFormat}" ? value : Redacted(value)));
            return values;
        }

        /// <summary>The exception, or, when its text holds a secret (an upstream that echoes a key), a stand-in whose text is masked.</summary>
        private Exception? Redacted(Exception? exception)
        {
            if (exception is null) return null;
            var text = exception.ToString();
            var redacted = redactor.Redact(text);
            return redacted == text ? exception : new RedactedException(exception.GetType().FullName + ": " + redactor.Redact(exception.Message), redacted);
        }

        private object? Redacted(object? value)
        {
            if (value is null or bool or int or long or double or float or decimal or short or byte or Guid or DateTime or DateTimeOffset or TimeSpan or Enum)
                return value;
            var text = Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? "";
            var redacted = redactor.Redact(text);
            return value is string || redacted != text ? redacted : value;
        }
    }

    private sealed class RedactedException(string message, string text) : Exception(message)
    {
        public override string ToString() => text;
    }

    /// <summary>What providers see: the redacted message and values (structured providers read the values).</summary>
    private sealed class RedactedState(string message, List<KeyValuePair<string, object?>> values) : IReadOnlyList<KeyValuePair<string, object?>>
    {
        public string Message { get; } = message;
        public int Count => values.Count;
        public KeyValuePair<string, object?> this[int index] => values[index];
        public IEnumerator<KeyValuePair<string, object?>> GetEnumerator() => values.GetEnumerator();
        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
        public override string ToString() => Message;
    }
}
