using System.Text;
using System.Text.Json;

namespace ServerlessMemory.Core;

/// <summary><c>merge</c>: add what the store lacks, keep what it has; <c>replace</c>: the user's memory becomes the document's.</summary>
public enum ImportMode
{
    Merge,
    Replace,
}

/// <summary>What an import did (or, on a dry run, would do) with one section's records.</summary>
public sealed record ImportTally(int Added, int Updated, int Skipped, int Conflicts, int Forgotten);

/// <summary>A record the store holds differently from the document: the store's is kept.</summary>
public sealed record ImportConflict(string Section, string Id, string Reason);

/// <summary>
/// An import's answer: what landed (or would, on a dry run) per section, the conflicts and the
/// memories already forgotten (the first <see cref="MemoryImport.ListedMax"/> of each), how vectors
/// were taken, how many chunks were written, and the cursor to resume from when it is not complete.
/// </summary>
public sealed record ImportReport(
    string Mode, bool DryRun, bool Complete, int Chunks, long Records,
    ImportTally Core, ImportTally Archive, ImportTally Messages, ImportTally Sessions,
    string Vectors, IReadOnlyList<ImportConflict> Conflicts, IReadOnlyList<string> Forgotten, string? Cursor);

/// <summary>An import stopped after some chunks landed: <see cref="Landed"/> says which, with the cursor to resume from.</summary>
public sealed class ImportInterruptedException(ImportReport landed, Exception cause) : Exception(cause.Message, cause)
{
    public ImportReport Landed { get; } = landed;
}

/// <summary>
/// Brings a document of <see cref="MemoryExport.Format"/> into a user's memory, read from a stream
/// as it arrives: records are checked and written in chunks (<see cref="MemoryLimits.ImportChunkRecords"/>,
/// <see cref="MemoryLimits.ImportChunkBytes"/>), each one atomic change set, so a document of any size
/// is imported in bounded memory, and a failure part-way leaves exactly the chunks reported. Each
/// memory keeps its decay state (when it entered memory, its last access, its access count); its
/// forgetting point is computed again under this service's decay settings, and a memory already past
/// it is reported and not stored. Importing the same document twice changes nothing the second time.
/// </summary>
public sealed class MemoryImport(MemoryEngine engine, string? embeddingModel, int embeddingDimensions)
{
    /// <summary>Conflicts and forgotten ids listed in the answer, each (the counts are whole).</summary>
    public const int ListedMax = 100;

    /// <summary>The largest record (core memory, with 32 blocks of 20,000 characters, is the largest).</summary>
    private const int MaxRecordBytes = 8 * 1024 * 1024;

    /// <summary>Reads a cursor, or says which field is wrong.</summary>
    public static long? CursorPosition(string? cursor) => cursor is null ? null : Cursor.Parse(cursor).Position;

    /// <summary>
    /// Imports <paramref name="document"/> into <paramref name="userId"/>'s memory. The document must be
    /// that user's, or <paramref name="fromUserId"/>'s when it names the document's user (memory moved
    /// between users on purpose).
    /// </summary>
    public async Task<ImportReport> RunAsync(string userId, Stream document, ImportMode mode, bool dryRun, string? cursor,
        string? fromUserId = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(document);
        if (mode != ImportMode.Replace || dryRun || cursor is not null)
            return await RunOnceAsync(userId, document, mode, dryRun, cursor, fromUserId, cancellationToken);

        // A replace erases the user before it writes, so it reads the whole document first: kept in a
        // temporary file as it arrives and checked by a dry run, a document that is truncated, invalid
        // or over a limit part-way is refused before anything is erased. Only a store failing part-way
        // can still stop it, and then the answer's cursor goes on.
        await using var kept = new FileStream(Path.Combine(Path.GetTempPath(), "smem-import-" + Path.GetRandomFileName()), FileMode.CreateNew,
            FileAccess.ReadWrite, FileShare.None, 81920, FileOptions.Asynchronous | FileOptions.DeleteOnClose);
        await document.CopyToAsync(kept, cancellationToken);
        kept.Position = 0;
        await RunOnceAsync(userId, kept, mode, dryRun: true, null, fromUserId, cancellationToken);
        kept.Position = 0;
        return await RunOnceAsync(userId, kept, mode, dryRun: false, null, fromUserId, cancellationToken);
    }

    private async Task<ImportReport> RunOnceAsync(string userId, Stream document, ImportMode mode, bool dryRun, string? cursor,
        string? fromUserId, CancellationToken cancellationToken)
    {
        var run = new Run(engine, this, userId, fromUserId ?? userId, mode, dryRun, cursor is null ? null : Cursor.Parse(cursor));
        try
        {
            await run.ReadAsync(new JsonStreamReader(document, MaxRecordBytes), cancellationToken);
            return run.Report(complete: true);
        }
        catch (Exception e) when (!dryRun && (run.Chunks > 0 || run.Erased) && e is not OperationCanceledException)
        {
            throw new ImportInterruptedException(run.Report(complete: false), e);
        }
    }

    internal bool ReusesVectors(string? model, int? dimensions) =>
        engine.Embedder is not null && embeddingModel is not null && model == embeddingModel && dimensions == _dimensions;

    /// <summary>Where an import stopped: the document (its user and export time), the mode, and the records landed.</summary>
    private sealed record Cursor(string UserId, string ExportedAt, ImportMode Mode, long Position)
    {
        public override string ToString() =>
            Convert.ToBase64String(Encoding.UTF8.GetBytes($"1\n{UserId}\n{ExportedAt}\n{Mode}\n{Position}")).TrimEnd('=').Replace('+', '-').Replace('/', '_');

        public static Cursor Parse(string text)
        {
            try
            {
                var base64 = text.Replace('-', '+').Replace('_', '/');
                var parts = Encoding.UTF8.GetString(Convert.FromBase64String(base64.PadRight(base64.Length + (4 - base64.Length % 4) % 4, '='))).Split('\n');
                if (parts.Length == 5 && parts[0] == "1" && Enum.TryParse<ImportMode>(parts[3], out var mode) && long.TryParse(parts[4], out var position) && position >= 0)
                    return new(parts[1], parts[2], mode, position);
            }
            catch (FormatException)
            {
            }
            throw new MemoryValidationException("cursor", "The cursor is not one an import answered.");
        }
    }

    private sealed class Tally
    {
        public int Added, Updated, Skipped, Conflicts, Forgotten;

        public void Add(Outcome outcome)
        {
            switch (outcome)
            {
                case Outcome.Added: Added++; break;
                case Outcome.Updated: Updated++; break;
                case Outcome.Skipped: Skipped++; break;
                case Outcome.Conflict: Conflicts++; break;
                case Outcome.Forgotten: Forgotten++; break;
            }
        }

        public ImportTally ToRecord() => new(Added, Updated, Skipped, Conflicts, Forgotten);
    }

    private enum Outcome
    {
        None,
        Added,
        Updated,
        Skipped,
        Conflict,
        Forgotten,
    }

    /// <summary>A record of the document as read, with its place in it, its size, and what it comes to.</summary>
    private sealed class Entry
    {
        public required long Position { get; init; }
        public required int Bytes { get; init; }
        public ArchiveItem? Item { get; init; }
        public ConversationMessage? Message { get; set; }
        public Outcome Outcome { get; set; }
        public string? Reason { get; set; }
        public string Id => Item?.Id ?? Message!.Id;
        // What the entry writes.
        public ArchiveItem? Add { get; set; }
        public ArchiveAccess? Access { get; set; }
        public ArchiveSupersession? Supersession { get; set; }
        public string? DeleteFirst { get; set; }
    }

    /// <summary>One import: the document's reading, its checks, and its chunks.</summary>
    private sealed class Run(MemoryEngine engine, MemoryImport import, string userId, string documentUser, ImportMode mode, bool dryRun, Cursor? resume)
    {
        private readonly DateTimeOffset _now = engine.Now();
        private readonly MemoryLimits _limits = engine.Limits;
        private readonly Tally _core = new(), _archive = new(), _messages = new(), _sessions = new();
        private readonly List<ImportConflict> _conflicts = [];
        private readonly List<string> _forgotten = [];
        private readonly HashSet<string> _archiveIds = new(StringComparer.Ordinal);
        private readonly HashSet<string> _messageIds = new(StringComparer.Ordinal);
        private readonly HashSet<string> _sessionIds = new(StringComparer.Ordinal);
        private readonly HashSet<string> _sections = new(StringComparer.Ordinal);
        private string? _fileUser;
        private string? _exportedAt;
        private bool _reuseVectors;
        private string _vectors = "none";
        private bool? _empty;
        private bool _erased;
        private Dictionary<string, ConversationMessage>? _storedMessages;
        private long _position;
        private long _landed;

        public int Chunks { get; private set; }

        /// <summary>A replace emptied the user: from here on, a failure says so, with the cursor to go on from.</summary>
        public bool Erased => _erased;

        public ImportReport Report(bool complete) => new(
            mode == ImportMode.Merge ? "merge" : "replace", dryRun, complete, Chunks, dryRun || complete ? _position : _landed,
            _core.ToRecord(), _archive.ToRecord(), _messages.ToRecord(), _sessions.ToRecord(),
            _vectors, [.. _conflicts], [.. _forgotten],
            complete || _fileUser is null || _exportedAt is null ? null : new Cursor(_fileUser, _exportedAt, mode, _landed).ToString());

        public async Task ReadAsync(JsonStreamReader reader, CancellationToken cancellationToken)
        {
            var (token, _) = await reader.ReadTokenAsync("body", cancellationToken);
            if (token != JsonTokenType.StartObject)
                throw new MemoryValidationException("body", $"The document must be a JSON object of format '{MemoryExport.Format}'.");
            while (true)
            {
                var (next, name) = await reader.ReadTokenAsync("body", cancellationToken);
                if (next == JsonTokenType.EndObject) break;
                if (!_sections.Add(name!)) throw new MemoryValidationException(name!, $"'{name}' appears twice.");
                if (_sections.Count == 1 && name != "format")
                    throw new MemoryValidationException("format", $"The document must start with \"format\": \"{MemoryExport.Format}\" (it is read as it arrives).");
                switch (name)
                {
                    case "format":
                        var format = await StringAsync(reader, "format", cancellationToken);
                        if (format != MemoryExport.Format)
                            throw new MemoryValidationException("format", $"This service imports format '{MemoryExport.Format}'; the document is '{format}'.");
                        break;
                    case "userId":
                        _fileUser = await StringAsync(reader, "userId", cancellationToken);
                        if (_fileUser != documentUser)
                            throw new MemoryValidationException("userId", documentUser == userId
                                ? $"The document is of user '{_fileUser}', not of '{userId}' (the route's). To move it to '{userId}', name its user: ?fromUserId={_fileUser}."
                                : $"The document is of user '{_fileUser}', not of '{documentUser}' (fromUserId).");
                        break;
                    case "exportedAt":
                        _exportedAt = await StringAsync(reader, "exportedAt", cancellationToken);
                        Time(_exportedAt, "exportedAt");
                        break;
                    case "store":
                        await StringAsync(reader, "store", cancellationToken);
                        break;
                    case "core":
                        await StartDataAsync(cancellationToken);
                        var (core, bytes) = await reader.ReadValueAsync("core", cancellationToken);
                        using (core) await CoreAsync(core!.RootElement, cancellationToken);
                        break;
                    case "vectors":
                        if (_sections.Contains("archive")) throw new MemoryValidationException("vectors", "'vectors' must come before 'archive'.");
                        var (vectors, _) = await reader.ReadValueAsync("vectors", cancellationToken);
                        using (vectors) Vectors(vectors!.RootElement);
                        break;
                    case "archive":
                        await StartDataAsync(cancellationToken);
                        await ArrayAsync(reader, "archive", ArchiveEntry, FlushArchiveAsync, cancellationToken);
                        break;
                    case "messages":
                        await StartDataAsync(cancellationToken);
                        await ArrayAsync(reader, "messages", MessageEntry, FlushMessagesAsync, cancellationToken);
                        break;
                    case "sessions":
                        await StartDataAsync(cancellationToken);
                        await SessionsAsync(reader, cancellationToken);
                        break;
                    default:
                        throw new MemoryValidationException(name!, $"Unknown field '{name}'.");
                }
            }
            await reader.EndAsync(cancellationToken);
            foreach (var required in new[] { "userId", "exportedAt", "core", "archive", "messages", "sessions" })
                if (!_sections.Contains(required)) throw new MemoryValidationException(required, $"'{required}' is required.");
            // A replace of a document with nothing in it still empties the user.
            if (mode == ImportMode.Replace && !dryRun && resume is null) await EraseOnceAsync(cancellationToken);
        }

        private static async Task<string> StringAsync(JsonStreamReader reader, string field, CancellationToken cancellationToken)
        {
            var (token, text) = await reader.ReadTokenAsync(field, cancellationToken);
            return token == JsonTokenType.String ? text! : throw new MemoryValidationException(field, $"'{field}' must be a string.");
        }

        /// <summary>The document says whose it is and when it was made before its first record: the cursor names both.</summary>
        private async Task StartDataAsync(CancellationToken cancellationToken)
        {
            if (_fileUser is null || _exportedAt is null)
                throw new MemoryValidationException(_fileUser is null ? "userId" : "exportedAt", "'userId' and 'exportedAt' must come before the records.");
            if (resume is not null && (resume.UserId != _fileUser || resume.ExportedAt != _exportedAt || resume.Mode != mode))
                throw new MemoryValidationException("cursor", "The cursor is from another document or another mode.");
            if (_empty is null)
            {
                // A replace starts from nothing; so does a merge into a user with nothing stored, which then reads nothing back.
                _empty = mode == ImportMode.Replace
                         || (await engine.Store.GetCoreAsync(userId, cancellationToken) is null
                             && (await engine.Store.ListArchiveAsync(userId, 1, null, cancellationToken)).Items.Count == 0
                             && (await engine.Store.ListMessagesAsync(userId, null, 1, null, cancellationToken)).Items.Count == 0);
            }
        }

        private bool Skipped(long position) => resume is not null && position <= resume.Position;

        private async Task EraseOnceAsync(CancellationToken cancellationToken)
        {
            if (mode != ImportMode.Replace || _erased || dryRun || resume is not null) return;
            _erased = true;
            await engine.Store.DeleteUserAsync(userId, cancellationToken);
        }

        /// <summary>Everything up to <paramref name="position"/> is stored, with one more chunk written when <paramref name="wrote"/>.</summary>
        private void Landed(long position, bool wrote = true)
        {
            _landed = position;
            if (wrote) Chunks++;
        }

        private void Note(string section, Entry entry)
        {
            if (entry.Outcome == Outcome.Conflict && _conflicts.Count < ListedMax) _conflicts.Add(new(section, entry.Id, entry.Reason!));
            if (entry.Outcome == Outcome.Forgotten && _forgotten.Count < ListedMax) _forgotten.Add(entry.Id);
        }

        // Core memory: one record, one commit.

        private async Task CoreAsync(JsonElement core, CancellationToken cancellationToken)
        {
            var position = ++_position;
            if (core.ValueKind == JsonValueKind.Null) return;
            var blocks = Blocks(core);
            if (Skipped(position)) return;
            var stored = _empty == true ? null : await engine.Store.GetCoreAsync(userId, cancellationToken);
            var result = (stored ?? new CoreMemory([], null)).Blocks.ToList();
            var changed = false;
            var outcomes = new List<(Outcome, string, string?)>();
            foreach (var block in blocks)
            {
                var index = result.FindIndex(b => b.Label == block.Label);
                if (index < 0)
                {
                    result.Add(block);
                    changed = true;
                    outcomes.Add((Outcome.Added, block.Label, null));
                }
                else if (SameBlock(result[index], block)) outcomes.Add((Outcome.Skipped, block.Label, null));
                else outcomes.Add((Outcome.Conflict, block.Label, "The stored block of this label holds something else; it is kept (replace takes the document's)."));
            }
            if (result.Count > _limits.MaxBlocks)
                throw new MemoryValidationException("core.blocks", $"Core memory would hold {result.Count} blocks; at most {_limits.MaxBlocks} are allowed.");
            if (changed && !dryRun)
            {
                await EraseOnceAsync(cancellationToken);
                await engine.Store.CommitAsync(userId, new MemoryChangeSet { Core = new CoreMemory(result, stored?.ETag), Atomic = true }, cancellationToken);
                Landed(position);
            }
            foreach (var (outcome, label, reason) in outcomes)
            {
                _core.Add(outcome);
                if (outcome == Outcome.Conflict && _conflicts.Count < ListedMax) _conflicts.Add(new("core", label, reason!));
            }
        }

        private static bool SameBlock(MemoryBlock a, MemoryBlock b) =>
            a.Value == b.Value && a.Limit == b.Limit && a.Description == b.Description && a.ReadOnly == b.ReadOnly
            && (a.Added ?? new Dictionary<string, DateTimeOffset>()).OrderBy(x => x.Key, StringComparer.Ordinal)
                .SequenceEqual((b.Added ?? new Dictionary<string, DateTimeOffset>()).OrderBy(x => x.Key, StringComparer.Ordinal));

        private List<MemoryBlock> Blocks(JsonElement core)
        {
            Fields(core, "core", "blocks");
            if (!core.TryGetProperty("blocks", out var array) || array.ValueKind != JsonValueKind.Array)
                throw new MemoryValidationException("core.blocks", "'core.blocks' is required: an array of blocks.");
            var blocks = new List<MemoryBlock>();
            var labels = new HashSet<string>(StringComparer.Ordinal);
            foreach (var b in array.EnumerateArray())
            {
                var field = $"core.blocks[{blocks.Count}]";
                Fields(b, field, "label", "value", "limit", "description", "readOnly", "added");
                var label = Str(b, field, "label");
                if (!CoreMemory.IsValidLabel(label))
                    throw new MemoryValidationException($"{field}.label", "A block label is 1 to 64 characters: a lowercase letter, then lowercase letters, digits, '_' or '-'.");
                if (!labels.Add(label)) throw new MemoryValidationException($"{field}.label", $"Block '{label}' appears twice.");
                var limit = Int(b, field, "limit", 1, _limits.MaxBlockLimit);
                var value = Str(b, field, "value", allowEmpty: true);
                Characters.AtMost(value, limit, $"{field}.value");
                var description = Str(b, field, "description", allowEmpty: true);
                Characters.AtMost(description, 1000, $"{field}.description");
                var readOnly = b.TryGetProperty("readOnly", out var r) && r.ValueKind is JsonValueKind.True or JsonValueKind.False
                    ? r.GetBoolean() : throw new MemoryValidationException($"{field}.readOnly", $"'{field}.readOnly' must be true or false.");
                Dictionary<string, DateTimeOffset>? added = null;
                if (b.TryGetProperty("added", out var a) && a.ValueKind != JsonValueKind.Null)
                {
                    if (a.ValueKind != JsonValueKind.Object) throw new MemoryValidationException($"{field}.added", $"'{field}.added' must be an object of times by line.");
                    added = new(StringComparer.Ordinal);
                    foreach (var line in a.EnumerateObject())
                        added[line.Name] = Time(line.Value.ValueKind == JsonValueKind.String ? line.Value.GetString()! : "", $"{field}.added");
                }
                blocks.Add(new MemoryBlock(label, value, limit, description, readOnly) { Added = added is { Count: > 0 } ? added : null });
            }
            if (blocks.Count > _limits.MaxBlocks)
                throw new MemoryValidationException("core.blocks", $"Core memory has {blocks.Count} blocks; at most {_limits.MaxBlocks} are allowed.");
            return blocks;
        }

        private void Vectors(JsonElement vectors)
        {
            Fields(vectors, "vectors", "model", "dimensions");
            var model = vectors.TryGetProperty("model", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null;
            var dimensions = vectors.TryGetProperty("dimensions", out var d) && d.ValueKind == JsonValueKind.Number && d.TryGetInt32(out var n) && n > 0 ? n
                : throw new MemoryValidationException("vectors.dimensions", "'vectors.dimensions' must be a positive integer.");
            _reuseVectors = import.ReusesVectors(model, dimensions);
        }

        // Arrays of records, read one at a time and written a chunk at a time.

        private async Task ArrayAsync(JsonStreamReader reader, string section, Func<JsonElement, string, long, int, Entry> entry,
            Func<List<Entry>, CancellationToken, Task> flush, CancellationToken cancellationToken)
        {
            if (section == "archive")
                _vectors = engine.Embedder is null ? "none" : _reuseVectors ? "reused" : "backfill";
            var (start, _) = await reader.ReadTokenAsync(section, cancellationToken);
            if (start != JsonTokenType.StartArray) throw new MemoryValidationException(section, $"'{section}' must be an array.");
            var chunk = new List<Entry>();
            var bytes = 0;
            for (var i = 0; ; i++)
            {
                var field = $"{section}[{i}]";
                var (value, size) = await reader.ReadValueAsync(field, cancellationToken);
                if (value is null) break;
                Entry e;
                using (value) e = entry(value.RootElement, field, ++_position, size);
                if (Skipped(e.Position)) continue;
                // A chunk ends where the time changes: records of one millisecond stay together, so their order is kept.
                if (chunk.Count > 0 && (chunk.Count >= _limits.ImportChunkRecords * 2
                                        || ((chunk.Count >= _limits.ImportChunkRecords || bytes + size > _limits.ImportChunkBytes) && Time(chunk[^1]) != Time(e))))
                {
                    await flush(chunk, cancellationToken);
                    chunk = [];
                    bytes = 0;
                }
                chunk.Add(e);
                bytes += size;
            }
            if (chunk.Count > 0) await flush(chunk, cancellationToken);
        }

        private static DateTimeOffset Time(Entry e) => e.Item?.CreatedAt ?? e.Message!.CreatedAt;

        private Entry ArchiveEntry(JsonElement item, string field, long position, int bytes)
        {
            Fields(item, field, "id", "content", "type", "importance", "createdAt", "enteredAt", "lastAccessedAt", "accessCount", "forgetAt",
                "supersededAt", "supersededBy", "history", "metadata", "vector");
            var id = Str(item, field, "id");
            var content = Str(item, field, "content");
            if (content.Trim().Length == 0) throw new MemoryValidationException($"{field}.content", $"'{field}.content' must not be empty.");
            Characters.AtMost(content, _limits.ArchiveChars, $"{field}.content");
            if (LexicalTerms.ContentHash(content) != id)
                throw new MemoryValidationException($"{field}.id", $"'{field}.id' is not the id of its content (a hash of the normalised content).");
            if (!_archiveIds.Add(id)) throw new MemoryValidationException($"{field}.id", $"Archive memory '{id}' appears twice.");
            var typeName = Str(item, field, "type");
            if (!MemoryTypes.TryParse(typeName, out var type) || typeName != type.ToName())
                throw new MemoryValidationException($"{field}.type", $"'{field}.type' must be one of {string.Join(", ", MemoryTypes.Names)}.");
            var importance = item.TryGetProperty("importance", out var imp) && imp.ValueKind == JsonValueKind.Number && imp.GetDouble() is var x && x is >= 0 and <= 1 ? x
                : throw new MemoryValidationException($"{field}.importance", $"'{field}.importance' must be a number from 0 to 1.");
            var createdAt = Past(item, field, "createdAt");
            var enteredAt = Past(item, field, "enteredAt");
            var lastAccessedAt = Past(item, field, "lastAccessedAt");
            if (lastAccessedAt < enteredAt)
                throw new MemoryValidationException($"{field}.lastAccessedAt", $"'{field}.lastAccessedAt' is before its enteredAt.");
            var accessCount = Int(item, field, "accessCount", 0, int.MaxValue);
            var supersededAt = item.TryGetProperty("supersededAt", out var sat) && sat.ValueKind != JsonValueKind.Null ? Past(item, field, "supersededAt") : (DateTimeOffset?)null;
            string? supersededBy = null;
            if (item.TryGetProperty("supersededBy", out var sby) && sby.ValueKind != JsonValueKind.Null)
            {
                supersededBy = Str(item, field, "supersededBy");
                if (supersededAt is null || supersededBy.Length != 32 || !supersededBy.All(char.IsAsciiHexDigitLower))
                    throw new MemoryValidationException($"{field}.supersededBy", $"'{field}.supersededBy' is an archive id, with a supersededAt.");
            }
            if (item.TryGetProperty("forgetAt", out var f) && f.ValueKind is not (JsonValueKind.Null or JsonValueKind.String))
                throw new MemoryValidationException($"{field}.forgetAt", $"'{field}.forgetAt' must be a time or null.");
            var history = History(item, field);
            var metadata = Metadata(item, field);
            ReadOnlyMemory<float>? vector = null;
            if (item.TryGetProperty("vector", out var v) && v.ValueKind != JsonValueKind.Null)
            {
                if (v.ValueKind != JsonValueKind.Array || v.GetArrayLength() == 0 || v.EnumerateArray().Any(n => n.ValueKind != JsonValueKind.Number))
                    throw new MemoryValidationException($"{field}.vector", $"'{field}.vector' must be an array of numbers or null.");
                // Another model's vectors, or another length, are left out: the backfill embeds the memory.
                if (_reuseVectors && v.GetArrayLength() == import._dimensions)
                    vector = v.EnumerateArray().Select(n => n.GetSingle()).ToArray();
            }
            var restored = new ArchiveItem
            {
                Id = id,
                Content = content,
                Type = type,
                Importance = importance,
                CreatedAt = createdAt,
                EnteredAt = enteredAt,
                LastAccessedAt = lastAccessedAt,
                AccessCount = accessCount,
                Metadata = metadata,
                SupersededAt = supersededAt,
                SupersededBy = supersededBy,
                History = history,
                Embedding = vector,
            };
            // The decay state is the document's; where it leads is this service's decay model's to say.
            restored = restored with { ForgetAt = Millisecond(engine.Decay.ForgetAt(restored)) };
            return new Entry { Position = position, Bytes = bytes, Item = restored };
        }

        private async Task FlushArchiveAsync(List<Entry> chunk, CancellationToken cancellationToken)
        {
            var stored = _empty == true ? new ArchiveItem?[chunk.Count]
                : await Task.WhenAll(chunk.Select(e => engine.Store.GetArchiveItemAsync(userId, e.Item!.Id, cancellationToken)));
            for (var i = 0; i < chunk.Count; i++) Decide(chunk[i], stored[i]);
            await CommitAsync(chunk, _archive, "archive", cancellationToken);
        }

        private void Decide(Entry e, ArchiveItem? stored)
        {
            var item = e.Item!;
            if (MemoryUnitOfWork.IsForgotten(item, _now))
            {
                e.Outcome = Outcome.Forgotten;
                return;
            }
            if (stored is null || MemoryUnitOfWork.IsForgotten(stored, _now))
            {
                // One the sweep has not removed yet is gone for every reader: it leaves first.
                e.DeleteFirst = stored?.Id;
                e.Add = item;
                e.Outcome = Outcome.Added;
                return;
            }
            if (stored.Type != item.Type || stored.Importance != item.Importance || stored.CreatedAt != item.CreatedAt || stored.EnteredAt != item.EnteredAt
                || !SameMetadata(stored.Metadata, item.Metadata)
                || (stored.SupersededAt is not null && item.SupersededAt is not null && (stored.SupersededAt != item.SupersededAt || stored.SupersededBy != item.SupersededBy)))
            {
                e.Outcome = Outcome.Conflict;
                e.Reason = "The store holds this memory with another type, importance, time, metadata or supersession; it is kept.";
                return;
            }
            // The document may know of later accesses and of a supersession: the store takes them, and keeps what it knows more.
            if (item.AccessCount > stored.AccessCount || item.LastAccessedAt > stored.LastAccessedAt)
            {
                var at = item.LastAccessedAt > stored.LastAccessedAt ? item.LastAccessedAt : stored.LastAccessedAt;
                var merged = stored with { AccessCount = Math.Max(stored.AccessCount, item.AccessCount), LastAccessedAt = at };
                e.Access = new ArchiveAccess(item.Id, at, Millisecond(engine.Decay.ForgetAt(merged)), merged.AccessCount - stored.AccessCount);
            }
            if (stored.SupersededAt is null && item.SupersededAt is { } supersededAt)
                e.Supersession = new(item.Id, supersededAt, item.SupersededBy) { History = item.Intervals, Since = stored.EnteredAt };
            e.Outcome = e.Access is null && e.Supersession is null ? Outcome.Skipped : Outcome.Updated;
        }

        private static bool SameMetadata(IReadOnlyDictionary<string, string> a, IReadOnlyDictionary<string, string> b) =>
            a.Count == b.Count && a.All(p => b.TryGetValue(p.Key, out var v) && v == p.Value);

        private Entry MessageEntry(JsonElement message, string field, long position, int bytes)
        {
            Fields(message, field, "id", "sessionId", "turnId", "role", "content", "createdAt");
            var id = Str(message, field, "id");
            if (!Characters.Fit(id, 128)) throw new MemoryValidationException($"{field}.id", $"'{field}.id' has at most 128 characters.");
            if (!_messageIds.Add(id)) throw new MemoryValidationException($"{field}.id", $"Message '{id}' appears twice.");
            var sessionId = Str(message, field, "sessionId");
            CheckId(sessionId, $"{field}.sessionId");
            var turnId = Str(message, field, "turnId");
            if (!Characters.Fit(turnId, 128)) throw new MemoryValidationException($"{field}.turnId", $"'{field}.turnId' has at most 128 characters.");
            var role = Str(message, field, "role");
            if (role is not ("user" or "assistant")) throw new MemoryValidationException($"{field}.role", $"'{field}.role' must be user or assistant.");
            var content = Str(message, field, "content", allowEmpty: true);
            Characters.AtMost(content, Math.Max(_limits.MessageChars, _limits.ReplyChars), $"{field}.content");
            var createdAt = Past(message, field, "createdAt");
            return new Entry { Position = position, Bytes = bytes, Message = new(id, sessionId, turnId, role, content, createdAt) };
        }

        private async Task FlushMessagesAsync(List<Entry> chunk, CancellationToken cancellationToken)
        {
            if (_empty != true && _storedMessages is null)
            {
                // Messages are read by page, not by id: the user's are read once, for the whole import.
                _storedMessages = new(StringComparer.Ordinal);
                string? token = null;
                do
                {
                    var page = await engine.Store.ListMessagesAsync(userId, null, MemoryExport.PageSize, token, cancellationToken);
                    foreach (var m in page.Items) _storedMessages[m.Id] = m;
                    token = page.ContinuationToken;
                } while (token is not null);
            }
            // Newest first, as exported; a store keeps each millisecond's messages in the order they were
            // written, so those of one millisecond get ticks that keep the document's order.
            for (var i = 0; i < chunk.Count;)
            {
                var j = i;
                while (j < chunk.Count && chunk[j].Message!.CreatedAt == chunk[i].Message!.CreatedAt) j++;
                for (var k = i; k < j; k++) chunk[k].Message = chunk[k].Message! with { CreatedAt = chunk[k].Message!.CreatedAt.AddTicks(j - 1 - k) };
                i = j;
            }
            foreach (var e in chunk)
            {
                var message = e.Message!;
                if (_storedMessages?.TryGetValue(message.Id, out var stored) == true)
                {
                    var same = stored.SessionId == message.SessionId && stored.TurnId == message.TurnId && stored.Role == message.Role
                               && stored.Content == message.Content && Millisecond(stored.CreatedAt) == Millisecond(message.CreatedAt);
                    e.Outcome = same ? Outcome.Skipped : Outcome.Conflict;
                    e.Reason = same ? null : "The store holds a message of this id with other content; it is kept.";
                }
                else e.Outcome = Outcome.Added;
            }
            await CommitAsync(chunk, _messages, "messages", cancellationToken);
        }

        /// <summary>
        /// Writes a chunk as one atomic change set, oldest first (the document is newest first, and a
        /// store keeps the order of what it is given). A chunk too large for one transaction of the
        /// store is written as two, each atomic.
        /// </summary>
        private async Task CommitAsync(List<Entry> chunk, Tally tally, string section, CancellationToken cancellationToken)
        {
            if (!dryRun)
            {
                var deletes = chunk.Where(e => e.DeleteFirst is not null).Select(e => e.DeleteFirst!).ToList();
                if (deletes.Count > 0) await engine.Store.CommitAsync(userId, new MemoryChangeSet { ArchiveDeletes = deletes }, cancellationToken);
                await CommitRangeAsync(chunk, tally, section, cancellationToken);
                return;
            }
            foreach (var e in chunk)
            {
                tally.Add(e.Outcome);
                Note(section, e);
            }
        }

        private async Task CommitRangeAsync(List<Entry> range, Tally tally, string section, CancellationToken cancellationToken)
        {
            var oldestFirst = Enumerable.Reverse(range).ToList();
            var changes = new MemoryChangeSet
            {
                ArchiveAdds = [.. oldestFirst.Where(e => e.Add is not null).Select(e => e.Add!)],
                Accesses = [.. oldestFirst.Where(e => e.Access is not null).Select(e => e.Access!)],
                ArchiveSupersessions = [.. oldestFirst.Where(e => e.Supersession is not null).Select(e => e.Supersession!)],
                Messages = [.. oldestFirst.Where(e => e.Message is not null && e.Outcome == Outcome.Added).Select(e => e.Message!)],
                Atomic = true,
            };
            if (!changes.IsEmpty)
            {
                await EraseOnceAsync(cancellationToken);
                try
                {
                    var result = await engine.Store.CommitAsync(userId, changes, cancellationToken);
                    // Stored meanwhile by another request: not added by this import.
                    foreach (var e in range)
                        if (e.Add is not null && result.SkippedArchiveIds.Contains(e.Add.Id)) e.Outcome = Outcome.Skipped;
                }
                catch (ChangeSetTooLargeException) when (range.Count > 1)
                {
                    var half = range.Count / 2;
                    await CommitRangeAsync(range[..half], tally, section, cancellationToken);
                    await CommitRangeAsync(range[half..], tally, section, cancellationToken);
                    return;
                }
            }
            foreach (var e in range)
            {
                tally.Add(e.Outcome);
                Note(section, e);
            }
            Landed(range[^1].Position, wrote: !changes.IsEmpty);
        }

        // Sessions: few, each its own write (a change set carries one).

        private async Task SessionsAsync(JsonStreamReader reader, CancellationToken cancellationToken)
        {
            var (start, _) = await reader.ReadTokenAsync("sessions", cancellationToken);
            if (start != JsonTokenType.StartArray) throw new MemoryValidationException("sessions", "'sessions' must be an array.");
            for (var i = 0; ; i++)
            {
                var field = $"sessions[{i}]";
                var (value, _) = await reader.ReadValueAsync(field, cancellationToken);
                if (value is null) break;
                SessionState session;
                using (value) session = Session(value.RootElement, field);
                var position = ++_position;
                if (Skipped(position)) continue;
                var stored = _empty == true ? null : await engine.Store.GetSessionAsync(userId, session.SessionId, cancellationToken);
                var outcome = stored is null ? Outcome.Added
                    : stored.Summary == session.Summary && stored.SummarizedThrough == session.SummarizedThrough ? Outcome.Skipped
                    : Outcome.Conflict;
                if (outcome == Outcome.Added && !dryRun)
                {
                    await EraseOnceAsync(cancellationToken);
                    try
                    {
                        await engine.Store.CommitAsync(userId, new MemoryChangeSet { Session = session, Atomic = true }, cancellationToken);
                    }
                    catch (MemoryConflictException)
                    {
                        outcome = Outcome.Conflict; // written meanwhile by a turn of that session: its summary is kept
                    }
                    Landed(position);
                }
                _sessions.Add(outcome);
                if (outcome == Outcome.Conflict && _conflicts.Count < ListedMax)
                    _conflicts.Add(new("sessions", session.SessionId, "The store holds another summary of this session; it is kept."));
            }
        }

        private SessionState Session(JsonElement session, string field)
        {
            Fields(session, field, "sessionId", "summary", "summarizedThrough");
            var sessionId = Str(session, field, "sessionId");
            CheckId(sessionId, $"{field}.sessionId");
            if (!_sessionIds.Add(sessionId)) throw new MemoryValidationException($"{field}.sessionId", $"Session '{sessionId}' appears twice.");
            var summary = Str(session, field, "summary", allowEmpty: true);
            Characters.AtMost(summary, Math.Max(_limits.MessageChars, _limits.ReplyChars), $"{field}.summary");
            var through = session.TryGetProperty("summarizedThrough", out var t) && t.ValueKind != JsonValueKind.Null ? Past(session, field, "summarizedThrough") : (DateTimeOffset?)null;
            return new SessionState(sessionId, summary, through, null);
        }

        // Checks of one field, each naming it.

        private static void Fields(JsonElement element, string field, params string[] allowed)
        {
            if (element.ValueKind != JsonValueKind.Object) throw new MemoryValidationException(field, $"'{field}' must be an object.");
            foreach (var property in element.EnumerateObject())
            {
                if (!allowed.Contains(property.Name)) throw new MemoryValidationException($"{field}.{property.Name}", $"Unknown field '{field}.{property.Name}'.");
                Readable(property.Value, $"{field}.{property.Name}");
            }
        }

        /// <summary>Every string must be valid Unicode: an escaped lone surrogate (<c>\ud800</c>) is not.</summary>
        private static void Readable(JsonElement element, string field)
        {
            try
            {
                switch (element.ValueKind)
                {
                    case JsonValueKind.String:
                        element.GetString();
                        break;
                    case JsonValueKind.Object:
                        foreach (var p in element.EnumerateObject()) Readable(p.Value, $"{field}.{p.Name}");
                        break;
                }
            }
            catch (InvalidOperationException)
            {
                throw new MemoryValidationException(field, $"'{field}' is not valid Unicode text: it holds a lone surrogate.");
            }
        }

        private static string Str(JsonElement element, string field, string name, bool allowEmpty = false)
        {
            if (!element.TryGetProperty(name, out var value) || value.ValueKind != JsonValueKind.String)
                throw new MemoryValidationException($"{field}.{name}", $"'{field}.{name}' is required and must be a string.");
            var text = value.GetString()!;
            return allowEmpty || text.Length > 0 ? text : throw new MemoryValidationException($"{field}.{name}", $"'{field}.{name}' must not be empty.");
        }

        private static int Int(JsonElement element, string field, string name, int min, int max) =>
            element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var i) && i >= min && i <= max ? i
                : throw new MemoryValidationException($"{field}.{name}", $"'{field}.{name}' must be an integer from {min} to {max}.");

        private DateTimeOffset Past(JsonElement element, string field, string name)
        {
            var time = Time(Str(element, field, name), $"{field}.{name}");
            return time > _now.AddMinutes(1) ? throw new MemoryValidationException($"{field}.{name}", $"'{field}.{name}' is in the future.") : time;
        }

        private static DateTimeOffset Time(string text, string field) =>
            DateTimeOffset.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var time)
                ? Millisecond(time.ToUniversalTime())
                : throw new MemoryValidationException(field, $"'{field}' must be an ISO-8601 time.");

        /// <summary>The periods it was true that have ended (absent in documents written before history was kept).</summary>
        private List<ArchiveInterval>? History(JsonElement item, string field)
        {
            if (!item.TryGetProperty("history", out var history) || history.ValueKind == JsonValueKind.Null) return null;
            if (history.ValueKind != JsonValueKind.Array) throw new MemoryValidationException($"{field}.history", $"'{field}.history' must be an array of periods.");
            var result = new List<ArchiveInterval>();
            foreach (var interval in history.EnumerateArray())
            {
                var at = $"{field}.history[{result.Count}]";
                Fields(interval, at, "from", "to", "supersededBy");
                var (from, to) = (Past(interval, at, "from"), Past(interval, at, "to"));
                if (to < from) throw new MemoryValidationException($"{at}.to", $"'{at}.to' is before its from.");
                string? by = null;
                if (interval.TryGetProperty("supersededBy", out var b) && b.ValueKind != JsonValueKind.Null)
                {
                    by = Str(interval, at, "supersededBy");
                    if (by.Length != 32 || !by.All(char.IsAsciiHexDigitLower))
                        throw new MemoryValidationException($"{at}.supersededBy", $"'{at}.supersededBy' is an archive id or null.");
                }
                result.Add(new ArchiveInterval(from, to, by));
            }
            return result.Count == 0 ? null : result;
        }

        private Dictionary<string, string> Metadata(JsonElement item, string field)
        {
            var result = new Dictionary<string, string>();
            if (!item.TryGetProperty("metadata", out var metadata) || metadata.ValueKind == JsonValueKind.Null) return result;
            if (metadata.ValueKind != JsonValueKind.Object) throw new MemoryValidationException($"{field}.metadata", $"'{field}.metadata' must be a flat object of strings.");
            foreach (var p in metadata.EnumerateObject())
            {
                if (p.Value.ValueKind != JsonValueKind.String || p.Name.Length == 0 || !Characters.Fit(p.Name, 64) || !Characters.Fit(p.Value.GetString()!, _limits.MetadataChars))
                    throw new MemoryValidationException($"{field}.metadata",
                        $"'{field}.metadata' keys are 1 to 64 characters and values strings of at most {_limits.MetadataChars}.");
                result[p.Name] = p.Value.GetString()!;
            }
            return result.Count > _limits.MetadataEntries
                ? throw new MemoryValidationException($"{field}.metadata", $"'{field}.metadata' has at most {_limits.MetadataEntries} entries.")
                : result;
        }

        private static void CheckId(string id, string field)
        {
            if (id.Length is 0 or > 128 || !id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '@' or ':'))
                throw new MemoryValidationException(field, $"'{field}' is 1 to 128 characters of A-Z a-z 0-9 - _ . @ :");
        }

        private static DateTimeOffset Millisecond(DateTimeOffset time) => time.AddTicks(-(time.Ticks % TimeSpan.TicksPerMillisecond));

        private static DateTimeOffset? Millisecond(DateTimeOffset? time) => time is { } t ? Millisecond(t) : null;
    }

    private readonly int _dimensions = embeddingDimensions;
}
