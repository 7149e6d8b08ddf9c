using System.Globalization;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace ServerlessMemory.Core;

/// <summary>Systems whose memory can be brought in: each is turned into a <c>serverless-memory/1</c> document.</summary>
public enum ForeignFormat
{
    /// <summary>A Letta Agent File (<c>.af</c>), either schema Letta has published.</summary>
    Letta,
    /// <summary>mem0's memories: <c>get_all</c> output, a list of them, or OpenMemory's backup (zip, JSON or JSON Lines).</summary>
    Mem0,
}

/// <summary>What a conversion carried over, and in <see cref="Notes"/> what it changed or left behind.</summary>
public sealed record ForeignConversion(string Source, int Blocks, int ArchiveItems, int Messages, IReadOnlyList<string> Notes);

/// <summary>
/// Turns memory exported from another system into this service's own export document, so one import
/// path stores it (docs/import.md has each mapping and what does not carry over). Pure: no HTTP and
/// no store; what it writes is what an export of the same memory would hold, with the memories
/// entering memory at <c>now</c> (their own dates kept as <c>createdAt</c>) so that history is not
/// born forgotten, and each one's <c>forgetAt</c> drawn by this service's decay model.
/// </summary>
public sealed class ForeignMemory(DecayModel decay, MemoryLimits limits)
{
    /// <summary>Input larger than this is refused: agent files and mem0 exports are far smaller.</summary>
    public const int MaxInputBytes = 256 * 1024 * 1024;

    public static bool TryParseFormat(string? name, out ForeignFormat format)
    {
        switch (name?.Trim().ToLowerInvariant())
        {
            case "letta" or "af": format = ForeignFormat.Letta; return true;
            case "mem0" or "openmemory": format = ForeignFormat.Mem0; return true;
            default: format = default; return false;
        }
    }

    /// <summary>
    /// Reads <paramref name="input"/> in <paramref name="format"/> and writes the user's document to
    /// <paramref name="writer"/>. <paramref name="agent"/> picks the agent of a Letta file that holds several.
    /// Input that is not of the format throws <see cref="MemoryValidationException"/> and writes nothing.
    /// </summary>
    public async Task<ForeignConversion> ConvertAsync(ForeignFormat format, Stream input, string userId, DateTimeOffset now, Utf8JsonWriter writer,
        string? agent = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(writer);
        var bytes = await ReadAllAsync(input, cancellationToken);
        var values = Parse(bytes);
        try
        {
            var document = new ForeignDocument(this, format == ForeignFormat.Letta ? "letta" : "mem0", now);
            if (format == ForeignFormat.Letta) LettaAgentFile.Read(values, agent, document);
            else Mem0Export.Read(values, document);
            return document.Write(userId, writer);
        }
        finally
        {
            foreach (var value in values) value.Dispose();
        }
    }

    internal DecayModel Decay => decay;

    internal MemoryLimits Limits => limits;

    private static async Task<byte[]> ReadAllAsync(Stream input, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        for (int read; (read = await input.ReadAsync(chunk, cancellationToken)) > 0;)
        {
            if (buffer.Length + read > MaxInputBytes)
                throw new MemoryValidationException("file", $"The file is larger than {MaxInputBytes / (1024 * 1024)} MB.");
            buffer.Write(chunk, 0, read);
        }
        var bytes = buffer.ToArray();
        // OpenMemory's backup is a zip holding memories.json; its memories.jsonl.gz is gzip.
        if (bytes is [0x1f, 0x8b, ..]) return Unzip(new GZipStream(new MemoryStream(bytes), CompressionMode.Decompress));
        if (bytes is [0x50, 0x4b, 0x03, 0x04, ..])
        {
            using var zip = new ZipArchive(new MemoryStream(bytes), ZipArchiveMode.Read);
            var entry = zip.GetEntry("memories.json") ?? zip.Entries.FirstOrDefault(e => e.Name.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
                ?? throw new MemoryValidationException("file", "The zip holds no .json file (an OpenMemory backup holds memories.json).");
            return Unzip(entry.Open());
        }
        return bytes;
    }

    private static byte[] Unzip(Stream compressed)
    {
        using (compressed)
        {
            using var output = new MemoryStream();
            var chunk = new byte[81920];
            try
            {
                for (int read; (read = compressed.Read(chunk)) > 0;)
                {
                    if (output.Length + read > MaxInputBytes)
                        throw new MemoryValidationException("file", $"The file unpacks to more than {MaxInputBytes / (1024 * 1024)} MB.");
                    output.Write(chunk, 0, read);
                }
            }
            catch (InvalidDataException e)
            {
                throw new MemoryValidationException("file", "The compressed file is damaged: " + e.Message);
            }
            return output.ToArray();
        }
    }

    /// <summary>One JSON value, or several in a row (JSON Lines, as OpenMemory's memories.jsonl).</summary>
    private static List<JsonDocument> Parse(byte[] bytes)
    {
        var values = new List<JsonDocument>();
        var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { AllowMultipleValues = true, CommentHandling = JsonCommentHandling.Skip, MaxDepth = 128 });
        try
        {
            while (reader.Read()) values.Add(JsonDocument.ParseValue(ref reader));
        }
        catch (JsonException e)
        {
            foreach (var value in values) value.Dispose();
            throw new MemoryValidationException("file", $"The file is not JSON (line {e.LineNumber + 1}): {e.Message}");
        }
        if (values.Count == 0) throw new MemoryValidationException("file", "The file is empty.");
        return values;
    }

    /// <summary>A time as another system wrote it: ISO-8601 with or without a zone (none: UTC), or Unix seconds; to the millisecond.</summary>
    internal static DateTimeOffset? Time(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) ? Time(value) : null;

    internal static DateTimeOffset? Time(JsonElement value)
    {
        DateTimeOffset? time = value.ValueKind switch
        {
            JsonValueKind.String when DateTimeOffset.TryParse(value.GetString(), CultureInfo.InvariantCulture,
                DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var parsed) => parsed,
            JsonValueKind.Number when value.TryGetDouble(out var seconds) && seconds is > 0 and < 1e11 => DateTimeOffset.FromUnixTimeMilliseconds((long)(seconds * 1000)),
            _ => null,
        };
        return time is { } t ? t.ToUniversalTime().AddTicks(-(t.Ticks % TimeSpan.TicksPerMillisecond)) : null;
    }

    internal static string? Text(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    /// <summary>A stable id from the parts that make a source record unique, so converting the same file twice gives the same ids.</summary>
    internal static string StableId(string prefix, params string?[] parts) =>
        prefix + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\u001f', parts))))[..24];

    /// <summary><paramref name="text"/> in pieces of at most <paramref name="limit"/> characters, cut at a line or space where one is near.</summary>
    internal static IEnumerable<string> Pieces(string text, int limit)
    {
        var rest = text.Trim();
        while (rest.Length > limit)
        {
            var cut = rest.LastIndexOf('\n', limit - 1);
            if (cut < limit / 2) cut = rest.LastIndexOf(' ', limit - 1);
            if (cut < limit / 2) cut = limit;
            // Never split a surrogate pair.
            if (char.IsHighSurrogate(rest[cut - 1])) cut--;
            yield return rest[..cut].Trim();
            rest = rest[cut..].Trim();
        }
        if (rest.Length > 0) yield return rest;
    }
}

/// <summary>The user's memory as a conversion gathers it, written as one <c>serverless-memory/1</c> document.</summary>
internal sealed class ForeignDocument(ForeignMemory conversion, string source, DateTimeOffset now)
{
    private readonly List<MemoryBlock> _blocks = [];
    private readonly Dictionary<string, ArchiveItem> _archive = new(StringComparer.Ordinal);
    private readonly List<ConversationMessage> _messages = [];
    private readonly List<string> _notes = [];
    private int _merged;

    public string Source { get; } = source;

    public DateTimeOffset Now { get; } = now;

    public MemoryLimits Limits => conversion.Limits;

    public bool HasCore { get; set; }

    public IReadOnlyList<MemoryBlock> Blocks => _blocks;

    public void Note(string note) => _notes.Add(note);

    public void AddBlock(MemoryBlock block) => _blocks.Add(block);

    /// <summary>
    /// Adds a memory that enters memory now, dated <paramref name="createdAt"/>. Content over the
    /// archive's limit becomes several memories; content already added (the same normalised text)
    /// is added once, with the earlier date. Returns how many memories it became.
    /// </summary>
    public int AddMemory(string content, MemoryType type, double importance, DateTimeOffset? createdAt, IReadOnlyDictionary<string, string> metadata)
    {
        var added = 0;
        foreach (var piece in ForeignMemory.Pieces(content, Limits.ArchiveChars))
        {
            var item = new ArchiveItem
            {
                Id = LexicalTerms.ContentHash(piece),
                Content = piece,
                Type = type,
                Importance = Math.Clamp(importance, 0, 1),
                CreatedAt = createdAt is { } at && at <= Now ? at : Now,
                EnteredAt = Now,
                LastAccessedAt = Now,
                Metadata = metadata,
            };
            item = item with { ForgetAt = conversion.Decay.ForgetAt(item) };
            if (_archive.TryGetValue(item.Id, out var known))
            {
                _merged++;
                if (item.CreatedAt < known.CreatedAt) _archive[item.Id] = known with { CreatedAt = item.CreatedAt };
                continue;
            }
            _archive[item.Id] = item;
            added++;
        }
        return added;
    }

    /// <summary>Adds a message; one over the message limit becomes several of the same turn.</summary>
    public void AddMessage(string sessionId, string sourceId, string turnId, string role, string content, DateTimeOffset createdAt)
    {
        var part = 0;
        foreach (var piece in ForeignMemory.Pieces(content, Limits.MessageChars))
            _messages.Add(new(ForeignMemory.StableId(Source + "-", sessionId, sourceId, (part++).ToString(CultureInfo.InvariantCulture)),
                sessionId, turnId, role, piece, createdAt));
    }

    /// <summary>
    /// Flat string metadata within the service's limits (<see cref="MemoryLimits.MetadataEntries"/>
    /// entries of at most <see cref="MemoryLimits.MetadataChars"/> characters); what does not fit is counted in a note.
    /// </summary>
    public Dictionary<string, string> Metadata(IEnumerable<KeyValuePair<string, string?>> entries)
    {
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in entries)
        {
            if (string.IsNullOrWhiteSpace(key) || string.IsNullOrEmpty(value)) continue;
            // The source's own key of a name this conversion uses (e.g. its "source") keeps its value under the source's prefix.
            var name = metadata.ContainsKey(key) ? $"{Source}_{key}" : key;
            if (metadata.Count >= Limits.MetadataEntries || name.Length > Limits.MetadataChars || metadata.ContainsKey(name)) { _droppedMetadata++; continue; }
            metadata[name] = value.Length > Limits.MetadataChars ? value[..(Limits.MetadataChars - 1)] + "…" : value;
        }
        return metadata;
    }

    private int _droppedMetadata;

    public ForeignConversion Write(string userId, Utf8JsonWriter writer)
    {
        if (_merged > 0) Note($"{_merged} memories repeated one already brought in (the same text) and were kept once, with the earlier date.");
        if (_droppedMetadata > 0) Note($"{_droppedMetadata} metadata entries were left out: at most {Limits.MetadataEntries} per memory, keys of at most {Limits.MetadataChars} characters.");
        writer.WriteStartObject();
        writer.WriteString("format", MemoryExport.Format);
        writer.WriteString("userId", userId);
        writer.WriteString("exportedAt", UtcTime.ToText(Now));
        writer.WriteString("store", Source);
        writer.WritePropertyName("core");
        if (!HasCore) writer.WriteNullValue();
        else
        {
            writer.WriteStartObject();
            writer.WriteStartArray("blocks");
            foreach (var block in _blocks) MemoryExport.WriteBlock(writer, block);
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        // Newest first, as an export lists them.
        writer.WriteStartArray("archive");
        foreach (var item in _archive.Values.OrderByDescending(i => i.CreatedAt).ThenBy(i => i.Id, StringComparer.Ordinal))
            MemoryExport.WriteItem(writer, item, null);
        writer.WriteEndArray();
        writer.WriteStartArray("messages");
        foreach (var (message, _) in _messages.Select((m, i) => (m, i)).OrderByDescending(x => x.m.CreatedAt).ThenByDescending(x => x.i))
            MemoryExport.WriteMessage(writer, message);
        writer.WriteEndArray();
        writer.WriteStartArray("sessions");
        writer.WriteEndArray();
        writer.WriteEndObject();
        writer.Flush();
        return new(Source, HasCore ? _blocks.Count : 0, _archive.Count, _messages.Count, _notes);
    }
}
