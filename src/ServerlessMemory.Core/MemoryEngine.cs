using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ServerlessMemory.Core;

/// <summary>What a search found; <see cref="Degraded"/>: lexical only, the embedding model having failed.</summary>
public sealed record ArchiveSearch(IReadOnlyList<ScoredItem> Items, bool Degraded);

/// <summary>A memory to add to the archive, as a caller or a model gives it.</summary>
public sealed record NewMemory(
    string Content,
    MemoryType Type = MemoryType.Fact,
    double Importance = 0.5,
    DateTimeOffset? CreatedAt = null,
    IReadOnlyDictionary<string, string>? Metadata = null);

/// <summary>
/// The memory engine's entry point: what both hosts and the chat turn call. Every operation is
/// scoped to one user and runs as a <see cref="MemoryUnitOfWork"/> that commits all or nothing.
/// </summary>
public sealed partial class MemoryEngine(
    IMemoryStore store,
    IOptions<DecayOptions> decay,
    IOptions<MemoryLimits> limits,
    IOptions<SearchOptions> search,
    TimeProvider time,
    ILogger<MemoryEngine> logger,
    IEmbeddingGenerator<string, Embedding<float>>? embedder = null,
    IOptions<AccessOptions>? accesses = null,
    IOptions<VectorBackfillOptions>? backfill = null,
    BlockRewriter? rewriter = null)
{
    public IMemoryStore Store { get; } = store;
    public DecayModel Decay { get; } = new(decay.Value);
    public MemoryLimits Limits { get; } = limits.Value;
    public SearchOptions Search { get; } = search.Value;
    public TimeProvider Time { get; } = time;
    public IEmbeddingGenerator<string, Embedding<float>>? Embedder { get; } = embedder;
    public VectorBackfillOptions Backfill { get; } = backfill?.Value ?? new();
    /// <summary>The small model that consolidates a block a write would overflow, for every writer; null: the oldest lines move.</summary>
    public BlockRewriter? Rewriter { get; } = rewriter;
    internal ILogger Logger { get; } = logger;

    /// <summary>The memory tools with this engine's limits in their schemas (<see cref="MemoryTools.Definitions"/>).</summary>
    public IReadOnlyList<MemoryToolDefinition> Tools { get; } = MemoryTools.Definitions(limits.Value);

    /// <summary>Where searches note their accesses, written in batches; null (a zero interval) writes them with each search.</summary>
    public AccessRecorder? Accesses { get; } = accesses?.Value is { } a && a.FlushInterval > TimeSpan.Zero
        ? new AccessRecorder(store, new DecayModel(decay.Value), a, logger)
        : null;

    /// <summary>Now, to the millisecond: what the stores keep, so a written item reads back equal.</summary>
    public DateTimeOffset Now()
    {
        var now = Time.GetUtcNow();
        return now.AddTicks(-(now.Ticks % TimeSpan.TicksPerMillisecond));
    }

    public MemoryUnitOfWork Begin(string userId, string sessionId = "default") => new(this, userId, sessionId);

    public async Task<CoreMemory> GetCoreAsync(string userId, CancellationToken cancellationToken = default) =>
        await Store.GetCoreAsync(userId, cancellationToken) ?? CoreMemory.CreateDefault(Limits.BlockLimit);

    /// <summary>
    /// Applies one edit to core memory. With <paramref name="ifMatch"/> the stored ETag must match
    /// (else <see cref="MemoryConflictException"/>); without, a concurrent change is merged by applying
    /// the edit again to the fresh document.
    /// </summary>
    public async Task<CoreMemory> EditCoreAsync(string userId, CoreEdit edit, CorePrecondition? precondition, CancellationToken cancellationToken = default)
    {
        var work = Begin(userId);
        if (precondition is not null)
        {
            var current = await work.GetCoreAsync(cancellationToken);
            if (!precondition.Holds(current, edit.Label))
                throw new MemoryConflictException(precondition.Any
                    ? $"There is no core memory block '{edit.Label}' (If-Match: *)."
                    : current.Find(edit.Label) is null && precondition.BlockMustExist
                        ? $"There is no core memory block '{edit.Label}' to match."
                        : "Core memory has changed since it was read (If-Match).");
            // The commit must find what was matched: a change meanwhile is a 412, not a merge.
            work.RequireCoreETag(current.ETag);
        }
        await work.EditCoreAsync(edit, byModel: false, cancellationToken);
        await work.CommitAsync(cancellationToken);
        return await work.GetCoreAsync(cancellationToken);
    }

    /// <summary>Adds a memory; returns the stored one and whether it is new (false: the same content was there).</summary>
    public Task<(ArchiveItem Item, bool Created)> AddArchiveAsync(string userId, NewMemory memory, CancellationToken cancellationToken = default) =>
        AddArchiveAsync(userId, memory, [], cancellationToken);

    /// <summary>
    /// Adds a memory (or states a superseded one again: current again) that replaces the memories
    /// <paramref name="supersedes"/> names. One that is not a current memory other than this one is a
    /// validation error, and nothing is written.
    /// </summary>
    public async Task<(ArchiveItem Item, bool Created)> AddArchiveAsync(string userId, NewMemory memory, IReadOnlyCollection<string> supersedes,
        CancellationToken cancellationToken = default)
    {
        var work = Begin(userId);
        var result = await work.AddArchiveAsync(memory, cancellationToken);
        foreach (var id in supersedes)
            // A restatement may have retired it already, as what had replaced this memory.
            if (!await work.SupersedeAsync(id, result.Item.Id, cancellationToken) && !work.Supersedes(id, result.Item.Id))
                throw new MemoryValidationException("supersedes", $"'supersedes' names '{id}', which is not a current archive memory other than this one.");
        await work.CommitAsync(cancellationToken);
        // A concurrent request stored the same memory first, or stated it again first: what is stored is theirs.
        if (work.SkippedAdds.TryGetValue(result.Item.Id, out var stored) && stored is not null)
            return (stored, false);
        return result;
    }

    /// <summary>The item, or null when it is absent or already forgotten (past its forgetAt, before the sweep removes it).</summary>
    public async Task<ArchiveItem?> GetArchiveItemAsync(string userId, string id, CancellationToken cancellationToken = default) =>
        await Store.GetArchiveItemAsync(userId, id, cancellationToken) is { } item && !MemoryUnitOfWork.IsForgotten(item, Now()) ? item : null;

    /// <summary>Newest first, without forgotten items (so a page may hold fewer than <paramref name="limit"/>).</summary>
    public async Task<Page<ArchiveItem>> ListArchiveAsync(string userId, int limit, string? continuationToken, CancellationToken cancellationToken = default)
    {
        var page = await Store.ListArchiveAsync(userId, limit, continuationToken, cancellationToken);
        var now = Now();
        return page with { Items = [.. page.Items.Where(i => !MemoryUnitOfWork.IsForgotten(i, now))] };
    }

    /// <summary>Ranks the user's archive for a query and counts each returned item as accessed.</summary>
    public async Task<IReadOnlyList<ScoredItem>> SearchArchiveAsync(string userId, string query, int top, CancellationToken cancellationToken = default) =>
        (await SearchAsync(userId, query, top, cancellationToken)).Items;

    /// <summary>As <see cref="SearchArchiveAsync"/>, and whether it was lexical only because the embedding model failed.</summary>
    public async Task<ArchiveSearch> SearchAsync(string userId, string query, int top, CancellationToken cancellationToken = default) =>
        await SearchAsync(userId, query, top, history: false, cancellationToken);

    /// <summary>With <paramref name="history"/>, superseded memories (what stopped being true) are found too.</summary>
    public async Task<ArchiveSearch> SearchAsync(string userId, string query, int top, bool history, CancellationToken cancellationToken = default)
    {
        var work = Begin(userId);
        var found = await work.SearchArchiveAsync(query, top, history, cancellationToken);
        await work.CommitAsync(cancellationToken);
        return new(found, work.EmbeddingsFailed);
    }

    public async Task<bool> DeleteArchiveAsync(string userId, string id, CancellationToken cancellationToken = default)
    {
        // Read first so a forgotten item is absent here too; the store's delete decides which of concurrent deletes won.
        if (await GetArchiveItemAsync(userId, id, cancellationToken) is null) return false;
        return await Store.DeleteArchiveItemAsync(userId, id, cancellationToken);
    }

    public async Task<SweepResult> SweepAsync(CancellationToken cancellationToken = default)
    {
        // Accesses waiting to be written may have moved a memory's forgetting point: write them first.
        if (Accesses is { } accesses) await accesses.FlushAsync(cancellationToken);
        var result = await Store.SweepAsync(Now(), Decay.Options.SweepBudget, cancellationToken);
        // The one line a sweep logs, whichever host or route ran it.
        LogSwept(logger, result.Scanned, result.Forgotten, result.Users, result.DurationMs, Store.Name);
        return result;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Decay sweep scanned {Scanned} and forgot {Forgotten} memories of {Users} users in {DurationMs} ms ({Store})")]
    private static partial void LogSwept(ILogger logger, int scanned, int forgotten, int users, long durationMs, string store);

    private long _embeddingsPausedUntil;

    /// <summary>
    /// The text's embedding; null when no embedding model is configured, and also when it fails or
    /// takes longer than <see cref="SearchOptions.EmbeddingTimeout"/> (<paramref name="failed"/> says
    /// which): memory degrades to lexical search rather than go down. After a failure embeddings are
    /// not asked for during <see cref="SearchOptions.EmbeddingPause"/>, so each request answers at once.
    /// </summary>
    internal async Task<(ReadOnlyMemory<float>? Vector, bool Failed)> TryEmbedAsync(string text, CancellationToken cancellationToken)
    {
        if (Embedder is null) return (null, false);
        var vectors = await TryEmbedAsync([text], cancellationToken);
        // Typed: a bare null would convert to an empty vector (ReadOnlyMemory's conversion from an array), not to none.
        return vectors is null ? ((ReadOnlyMemory<float>?)null, true) : (vectors[0], false);
    }

    /// <summary>True while embeddings are not asked for, after a failure (<see cref="SearchOptions.EmbeddingPause"/>).</summary>
    // Real time, not the engine's clock: an outage is no part of the memory model.
    internal bool EmbeddingsPaused => Environment.TickCount64 < Interlocked.Read(ref _embeddingsPausedUntil);

    /// <summary>The texts' embeddings in one call, within the timeout; null when paused, failed or too slow (which starts a pause).</summary>
    internal async Task<IReadOnlyList<ReadOnlyMemory<float>>?> TryEmbedAsync(IReadOnlyList<string> texts, CancellationToken cancellationToken)
    {
        if (Embedder is null || EmbeddingsPaused) return null;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(Search.EmbeddingTimeout);
        try
        {
            var embeddings = await Embedder.GenerateAsync(texts, cancellationToken: deadline.Token);
            if (embeddings.Count != texts.Count)
                throw new InvalidOperationException($"The embedding model answered {embeddings.Count} embeddings for {texts.Count} texts.");
            return [.. embeddings.Select(e => e.Vector)];
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            Interlocked.Exchange(ref _embeddingsPausedUntil, Environment.TickCount64 + (long)Search.EmbeddingPause.TotalMilliseconds);
            Logger.LogWarning(e, "The embedding model failed; memories are stored without vectors and search is lexical for {PauseSeconds} s",
                Search.EmbeddingPause.TotalSeconds);
            return null;
        }
    }
}
