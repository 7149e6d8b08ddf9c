using System.Text.Json;

namespace ServerlessMemory.Core;

/// <summary>
/// Reads one JSON document from a stream a token or a whole value at a time, holding only the value
/// being read (at most <see cref="MaxValueBytes"/>) and the bytes after it: a document of any size
/// is read in bounded memory. A stream that ends inside the document is a <see cref="MemoryValidationException"/>
/// that says it is truncated; anything else that is not JSON, one that says where.
/// </summary>
internal sealed class JsonStreamReader(Stream stream, int maxValueBytes)
{
    private byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;
    private bool _final;
    private JsonReaderState _state = new(new JsonReaderOptions { MaxDepth = 64 });

    public int MaxValueBytes { get; } = maxValueBytes;

    /// <summary>Bytes of the document read so far.</summary>
    public long Position { get; private set; }

    /// <summary>The next token, and its text when it is a property name or a string.</summary>
    public async ValueTask<(JsonTokenType Token, string? Text)> ReadTokenAsync(string field, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (TryReadToken(field, out var token, out var text)) return (token, text);
            if (_final) throw Truncated(field);
            await FillAsync(field, cancellationToken);
        }
    }

    /// <summary>The next whole value as a document of its own (null: the array it was in ended), and its size in bytes.</summary>
    public async ValueTask<(JsonDocument? Value, int Bytes)> ReadValueAsync(string field, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (TryReadValue(field, out var value, out var bytes, out var ended)) return (ended ? null : value, bytes);
            if (_final) throw Truncated(field);
            if (_end - _start >= MaxValueBytes)
                throw new MemoryValidationException(field, $"'{field}' is larger than {MaxValueBytes} bytes.");
            await FillAsync(field, cancellationToken);
        }
    }

    /// <summary>Checks that nothing but white space follows the document.</summary>
    public async ValueTask EndAsync(CancellationToken cancellationToken)
    {
        while (!_final) await FillAsync("body", cancellationToken);
        var reader = new Utf8JsonReader(_buffer.AsSpan(_start, _end - _start), isFinalBlock: true, _state);
        try
        {
            if (reader.Read()) throw new MemoryValidationException("body", "Something follows the document's end.");
        }
        catch (JsonException)
        {
            throw new MemoryValidationException("body", "Something follows the document's end.");
        }
    }

    private bool TryReadToken(string field, out JsonTokenType token, out string? text)
    {
        var reader = new Utf8JsonReader(_buffer.AsSpan(_start, _end - _start), _final, _state);
        token = JsonTokenType.None;
        text = null;
        try
        {
            if (!reader.Read()) return false;
        }
        catch (JsonException e)
        {
            throw Broken(field, e);
        }
        token = reader.TokenType;
        if (token is JsonTokenType.PropertyName or JsonTokenType.String) text = Text(ref reader, field);
        Advance(ref reader);
        return true;
    }

    private bool TryReadValue(string field, out JsonDocument? value, out int bytes, out bool ended)
    {
        var reader = new Utf8JsonReader(_buffer.AsSpan(_start, _end - _start), _final, _state);
        value = null;
        bytes = 0;
        ended = false;
        try
        {
            if (!reader.Read()) return false;
            if (reader.TokenType is JsonTokenType.EndArray or JsonTokenType.EndObject)
            {
                ended = true;
                Advance(ref reader);
                return true;
            }
            var start = reader;
            if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray && !reader.TrySkip()) return false;
            value = JsonDocument.ParseValue(ref start);
            bytes = (int)start.BytesConsumed;
            Advance(ref start);
            return true;
        }
        catch (JsonException e)
        {
            throw Broken(field, e);
        }
    }

    private void Advance(ref Utf8JsonReader reader)
    {
        _start += (int)reader.BytesConsumed;
        _state = reader.CurrentState;
    }

    private static string Text(ref Utf8JsonReader reader, string field)
    {
        try
        {
            return reader.GetString()!;
        }
        catch (InvalidOperationException)
        {
            throw new MemoryValidationException(field, $"'{field}' is not valid Unicode text: it holds a lone surrogate or invalid UTF-8.");
        }
    }

    private async Task FillAsync(string field, CancellationToken cancellationToken)
    {
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }
        if (_end == _buffer.Length)
        {
            if (_buffer.Length >= MaxValueBytes + 64 * 1024)
                throw new MemoryValidationException(field, $"'{field}' is larger than {MaxValueBytes} bytes.");
            Array.Resize(ref _buffer, Math.Min(_buffer.Length * 2, MaxValueBytes + 64 * 1024));
        }
        var read = await stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken);
        if (read == 0) _final = true;
        _end += read;
        Position += read;
    }

    /// <summary>Malformed, or cut short: at the stream's end, JSON that only lacks more bytes is a truncated document.</summary>
    private MemoryValidationException Broken(string field, JsonException e)
    {
        if (_final && LacksOnlyMoreBytes()) return Truncated(field);
        return new(field, $"The document is not valid JSON near byte {Position - (_end - _start) + (e.BytePositionInLine ?? 0)} ('{field}').");
    }

    private bool LacksOnlyMoreBytes()
    {
        var reader = new Utf8JsonReader(_buffer.AsSpan(_start, _end - _start), isFinalBlock: false, _state);
        try
        {
            while (reader.Read()) { }
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static MemoryValidationException Truncated(string field) =>
        new(field, $"The document ends inside '{field}': it is truncated. Nothing after the last chunk the answer reports was imported.");
}
