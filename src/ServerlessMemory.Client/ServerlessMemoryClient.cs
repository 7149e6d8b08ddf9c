using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace ServerlessMemory.Client;

/// <summary>
/// A typed client for every route of the ServerlessMemory API (both hosts serve the same surface).
/// Error answers become <see cref="ServerlessMemoryException"/>s of the status's kind. Thread-safe;
/// with <c>AddServerlessMemoryClient</c> it is a typed <see cref="HttpClient"/> client with resilience.
/// </summary>
public sealed class ServerlessMemoryClient
{
    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private readonly HttpClient _http;
    private readonly ServerlessMemoryClientOptions _options;
    private readonly Uri? _baseAddress;

    /// <param name="httpClient">Sends the requests; its <see cref="HttpClient.BaseAddress"/> is used when the options give none.</param>
    /// <param name="options">Base address and keys; null: the HttpClient is set up already.</param>
    public ServerlessMemoryClient(HttpClient httpClient, ServerlessMemoryClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(httpClient);
        _http = httpClient;
        _options = options ?? new ServerlessMemoryClientOptions();
        _baseAddress = ServerlessMemoryClientOptions.Normalize(_options.BaseAddress ?? httpClient.BaseAddress);
    }

    // Health and chat

    public Task<HealthStatus> GetHealthAsync(CancellationToken cancellationToken = default) =>
        SendAsync<HealthStatus>(HttpMethod.Get, "health", null, cancellationToken);

    /// <summary>A chat turn run by the service with its own model and the user's memory.</summary>
    public Task<ChatTurn> ChatAsync(string userId, string message, string? sessionId = null, CancellationToken cancellationToken = default) =>
        SendAsync<ChatTurn>(HttpMethod.Post, $"{User(userId)}/chat", new { message, sessionId }, cancellationToken);

    // Memory for agents that run their own loop

    /// <summary>
    /// What your prompt needs before your model call: core blocks, the archive memories recalled for
    /// <paramref name="message"/> (counted as recalled), the session's summary, and all of it as one
    /// system text; fitted to <paramref name="tokens"/> when given.
    /// </summary>
    public Task<MemoryContext> GetContextAsync(string userId, string message, string? sessionId = null, int? tokens = null,
        CancellationToken cancellationToken = default) =>
        SendAsync<MemoryContext>(HttpMethod.Post, $"{User(userId)}/context", new { message, sessionId, tokens }, cancellationToken);

    /// <summary>Stores a turn your agent ran in the session and extracts what to remember from it; all or nothing.</summary>
    public Task<RecordedTurn> RecordTurnAsync(string userId, IEnumerable<TurnMessage> messages, string? sessionId = null,
        CancellationToken cancellationToken = default) =>
        SendAsync<RecordedTurn>(HttpMethod.Post, $"{User(userId)}/turns", new { sessionId, messages = messages.ToList() }, cancellationToken);

    // Core memory

    public Task<CoreMemory> GetCoreMemoryAsync(string userId, CancellationToken cancellationToken = default) =>
        SendAsync<CoreMemory>(HttpMethod.Get, $"{User(userId)}/memory/core", null, cancellationToken);

    /// <summary>Writes a block; with <paramref name="ifMatch"/> (a <see cref="CoreMemory.ETag"/>) only if core memory did not change since.</summary>
    public Task<MemoryBlock> PutCoreBlockAsync(string userId, string label, CoreBlockUpdate block, string? ifMatch = null,
        CancellationToken cancellationToken = default) =>
        SendAsync<MemoryBlock>(HttpMethod.Put, $"{User(userId)}/memory/core/{Escape(label)}", block, cancellationToken, ifMatch);

    public Task DeleteCoreBlockAsync(string userId, string label, string? ifMatch = null, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement?>(HttpMethod.Delete, $"{User(userId)}/memory/core/{Escape(label)}", null, cancellationToken, ifMatch);

    // Archive memory

    public async Task<ArchiveAddResult> AddArchiveItemAsync(string userId, NewArchiveMemory memory, CancellationToken cancellationToken = default)
    {
        using var response = await SendRawAsync(HttpMethod.Post, $"{User(userId)}/memory/archive", memory, cancellationToken).ConfigureAwait(false);
        var item = await ReadAsync<ArchiveItem>(response, cancellationToken).ConfigureAwait(false);
        return new(item, response.StatusCode == HttpStatusCode.Created);
    }

    /// <summary>Ranked search; each item returned counts as a recall.</summary>
    public async Task<IReadOnlyList<ArchiveItem>> SearchArchiveAsync(string userId, string query, int? top = null, CancellationToken cancellationToken = default) =>
        (await SendAsync<Page<ArchiveItem>>(HttpMethod.Get,
            $"{User(userId)}/memory/archive{Query(("query", query), ("top", top?.ToString(CultureInfo.InvariantCulture)))}", null, cancellationToken)
            .ConfigureAwait(false)).Items;

    /// <summary>The archive, newest first, a page at a time; no access is counted.</summary>
    public Task<Page<ArchiveItem>> ListArchiveAsync(string userId, int? limit = null, string? continuationToken = null,
        CancellationToken cancellationToken = default) =>
        SendAsync<Page<ArchiveItem>>(HttpMethod.Get,
            $"{User(userId)}/memory/archive{Query(("limit", limit?.ToString(CultureInfo.InvariantCulture)), ("continuationToken", continuationToken))}",
            null, cancellationToken);

    public Task<ArchiveItem> GetArchiveItemAsync(string userId, string id, CancellationToken cancellationToken = default) =>
        SendAsync<ArchiveItem>(HttpMethod.Get, $"{User(userId)}/memory/archive/{Escape(id)}", null, cancellationToken);

    public Task DeleteArchiveItemAsync(string userId, string id, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement?>(HttpMethod.Delete, $"{User(userId)}/memory/archive/{Escape(id)}", null, cancellationToken);

    // Conversation and the user

    /// <summary>The conversation, newest first; <paramref name="sessionId"/> null means every session.</summary>
    public Task<Page<ConversationMessage>> ListMessagesAsync(string userId, string? sessionId = null, int? limit = null,
        string? continuationToken = null, CancellationToken cancellationToken = default) =>
        SendAsync<Page<ConversationMessage>>(HttpMethod.Get,
            $"{User(userId)}/messages{Query(("sessionId", sessionId), ("limit", limit?.ToString(CultureInfo.InvariantCulture)), ("continuationToken", continuationToken))}",
            null, cancellationToken);

    /// <summary>Erases everything of the user: core, archive, messages.</summary>
    public Task DeleteUserAsync(string userId, CancellationToken cancellationToken = default) =>
        SendAsync<JsonElement?>(HttpMethod.Delete, User(userId), null, cancellationToken);

    /// <summary>
    /// Writes everything the service keeps for the user (format <c>serverless-memory/1</c>) to
    /// <paramref name="destination"/> as it arrives, reporting the bytes written so far; nothing is
    /// held in memory. A transfer cut short throws, and what was written is no whole document.
    /// </summary>
    public Task ExportAsync(string userId, Stream destination, IProgress<long>? progress = null, CancellationToken cancellationToken = default) =>
        ExportAsync(userId, destination, new ExportOptions(), progress, cancellationToken);

    /// <summary>As the other overload, with <paramref name="options"/>: <see cref="ExportOptions.Vectors"/> also writes each memory's vector.</summary>
    public async Task ExportAsync(string userId, Stream destination, ExportOptions options, IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(options);
        using var response = await SendRawAsync(HttpMethod.Get, $"{User(userId)}/export{(options.Vectors ? "?vectors=true" : "")}", null, cancellationToken,
            completion: HttpCompletionOption.ResponseHeadersRead).ConfigureAwait(false);
        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        var buffer = new byte[81920];
        long written = 0;
        for (int read; (read = await body.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0;)
        {
            await destination.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
            written += read;
            progress?.Report(written);
        }
    }

    /// <summary>
    /// Sends an export document (format <c>serverless-memory/1</c>) to the user's memory as it is read
    /// from <paramref name="document"/>, reporting the bytes sent; the service writes it in atomic
    /// chunks. An import that stops part-way throws with <see cref="ServerlessMemoryException.Imported"/>
    /// saying what landed and the cursor to resume from (<see cref="ImportOptions.Cursor"/>, the same document again).
    /// </summary>
    public async Task<ImportReport> ImportAsync(string userId, Stream document, ImportOptions? options = null, IProgress<ImportProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(document);
        options ??= new ImportOptions();
        var total = document.CanSeek ? document.Length - document.Position : (long?)null;
        using var content = new StreamContent(new ProgressStream(document, total, progress), 81920);
        content.Headers.ContentType = new("application/json") { CharSet = "utf-8" };
        if (total is { } length) content.Headers.ContentLength = length;
        var path = $"{User(userId)}/import" + Query(("mode", options.Mode), ("dryRun", options.DryRun ? "true" : null), ("cursor", options.Cursor),
            ("fromUserId", options.FromUserId));
        using var response = await SendRawAsync(HttpMethod.Post, path, content, cancellationToken, longTransfer: true).ConfigureAwait(false);
        return await ReadAsync<ImportReport>(response, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// As <see cref="ImportAsync(string, Stream, ImportOptions?, IProgress{ImportProgress}?, CancellationToken)"/>, opening the
    /// document with <paramref name="openDocument"/>; an import that stops part-way with a cursor (the
    /// store unavailable, a lost connection answered) is resumed from it, with the document opened again,
    /// up to <paramref name="attempts"/> times in all.
    /// </summary>
    public async Task<ImportReport> ImportAsync(string userId, Func<Stream> openDocument, ImportOptions? options = null,
        IProgress<ImportProgress>? progress = null, int attempts = 3, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(openDocument);
        ArgumentOutOfRangeException.ThrowIfLessThan(attempts, 1);
        options ??= new ImportOptions();
        for (var attempt = 1; ; attempt++)
        {
            await using var document = openDocument();
            try
            {
                return await ImportAsync(userId, document, options, progress, cancellationToken).ConfigureAwait(false);
            }
            catch (ServerlessMemoryException e) when (attempt < attempts && e is not ServerlessMemoryValidationException && e.Imported?.Cursor is { } cursor)
            {
                options = options with { Cursor = cursor };
                if (e is ServerlessMemoryUnavailableException { RetryAfter: { } wait })
                    await Task.Delay(wait < TimeSpan.FromSeconds(30) ? wait : TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Reports the bytes read from the document, which are the bytes sent.</summary>
    private sealed class ProgressStream(Stream inner, long? total, IProgress<ImportProgress>? progress) : Stream
    {
        private long _sent;

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            _sent += read;
            if (read > 0) progress?.Report(new ImportProgress(_sent, total));
            return read;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count)
        {
            var read = inner.Read(buffer, offset, count);
            _sent += read;
            if (read > 0) progress?.Report(new ImportProgress(_sent, total));
            return read;
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => total ?? throw new NotSupportedException();
        public override long Position { get => _sent; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    // Memory tools

    /// <summary>The memory tools' definitions, as the service's own chat model gets them.</summary>
    public async Task<IReadOnlyList<MemoryTool>> ListToolsAsync(CancellationToken cancellationToken = default)
    {
        var body = await SendAsync<JsonElement>(HttpMethod.Get, "tools", null, cancellationToken).ConfigureAwait(false);
        return
        [
            .. body.GetProperty("tools").EnumerateArray().Select(t => t.GetProperty("function")).Select(f => new MemoryTool(
                f.GetProperty("name").GetString()!, f.GetProperty("description").GetString() ?? "", f.GetProperty("parameters").Clone())),
        ];
    }

    /// <summary>Runs a memory tool in the user's scope and returns its JSON result.</summary>
    public async Task<JsonElement> InvokeToolAsync(string userId, string name, JsonElement arguments, CancellationToken cancellationToken = default)
    {
        var body = await SendAsync<JsonElement>(HttpMethod.Post, $"{User(userId)}/tools/{Escape(name)}", arguments, cancellationToken).ConfigureAwait(false);
        return body.GetProperty("result").Clone();
    }

    /// <inheritdoc cref="InvokeToolAsync(string, string, JsonElement, CancellationToken)"/>
    public Task<JsonElement> InvokeToolAsync(string userId, string name, object arguments, CancellationToken cancellationToken = default) =>
        InvokeToolAsync(userId, name, JsonSerializer.SerializeToElement(arguments, Json), cancellationToken);

    // Admin

    /// <summary>Runs one decay sweep now; sent with <see cref="ServerlessMemoryClientOptions.AdminKey"/>.</summary>
    public Task<SweepResult> RunDecaySweepAsync(CancellationToken cancellationToken = default) =>
        SendAsync<SweepResult>(HttpMethod.Post, "admin/decay", null, cancellationToken, admin: true);

    // Plumbing

    private async Task<T> SendAsync<T>(HttpMethod method, string path, object? body, CancellationToken cancellationToken,
        string? ifMatch = null, bool admin = false)
    {
        using var response = await SendRawAsync(method, path, body, cancellationToken, ifMatch, admin).ConfigureAwait(false);
        return await ReadAsync<T>(response, cancellationToken).ConfigureAwait(false);
    }

    private async Task<HttpResponseMessage> SendRawAsync(HttpMethod method, string path, object? body, CancellationToken cancellationToken,
        string? ifMatch = null, bool admin = false, HttpCompletionOption completion = HttpCompletionOption.ResponseContentRead, bool longTransfer = false)
    {
        using var request = new HttpRequestMessage(method, Address(path));
        if (longTransfer) request.Options.Set(ServerlessMemoryClientServiceCollectionExtensions.LongTransfer, true);
        if (body is HttpContent content) request.Content = content;
        else if (body is not null) request.Content = JsonContent.Create(body, body.GetType(), options: Json);
        var key = admin ? _options.AdminKey ?? _options.ApiKey : _options.ApiKey;
        if (!string.IsNullOrEmpty(key)) request.Headers.TryAddWithoutValidation("x-functions-key", key);
        if (ifMatch is not null)
            request.Headers.TryAddWithoutValidation("If-Match", ifMatch.StartsWith('"') || ifMatch.StartsWith("W/", StringComparison.Ordinal) ? ifMatch : $"\"{ifMatch}\"");
        var response = await _http.SendAsync(request, completion, cancellationToken).ConfigureAwait(false);
        if (response.IsSuccessStatusCode) return response;
        using (response) throw await ServerlessMemoryException.FromResponseAsync(response, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<T> ReadAsync<T>(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.StatusCode == HttpStatusCode.NoContent || response.Content.Headers.ContentLength == 0) return default!;
        return (await response.Content.ReadFromJsonAsync<T>(Json, cancellationToken).ConfigureAwait(false))!;
    }

    private Uri Address(string path)
    {
        var relative = "api/" + path;
        return _baseAddress is null
            ? _http.BaseAddress is null
                ? throw new InvalidOperationException("ServerlessMemoryClient has no base address: set ServerlessMemory:BaseAddress or HttpClient.BaseAddress.")
                : new Uri(relative, UriKind.Relative)
            : new Uri(_baseAddress, relative);
    }

    private static string User(string userId)
    {
        ArgumentException.ThrowIfNullOrEmpty(userId);
        return "users/" + Escape(userId);
    }

    private static string Escape(string segment) => Uri.EscapeDataString(segment);

    private static string Query(params (string Name, string? Value)[] parameters)
    {
        var query = new StringBuilder();
        foreach (var (name, value) in parameters.Where(p => p.Value is not null))
            query.Append(query.Length == 0 ? '?' : '&').Append(name).Append('=').Append(Uri.EscapeDataString(value!));
        return query.ToString();
    }
}
