using Microsoft.Extensions.Logging;

namespace ServerlessMemory.Core;

/// <summary>A change a request or turn made, as the chat response reports it.</summary>
public sealed record MemoryUpdate(string Target, string Action, string? Label, string? Id, string Content);

/// <summary>
/// One request's or one turn's view of a user's memory: reads see its own pending writes, and
/// nothing reaches the store until <see cref="CommitAsync"/>, which writes everything at once. Core
/// edits are kept as operations so that a conflict is resolved by applying them to the fresh document.
/// Not thread-safe: one turn, one unit of work.
/// </summary>
public sealed class MemoryUnitOfWork
{
    private const int MaxCommitAttempts = 32;

    private readonly MemoryEngine _engine;
    private readonly List<CoreEdit> _coreEdits = [];
    private readonly Dictionary<string, ArchiveItem> _adds = [];
    /// <summary>Adds that take the place of a stored memory already forgotten, with the time it was due by.</summary>
    private readonly Dictionary<string, DateTimeOffset> _renewing = [];
    private readonly Dictionary<string, ArchiveItem?> _skipped = [];
    private readonly Dictionary<string, ArchiveSupersession> _supersessions = [];
    /// <summary>Superseded memories stated again, current again once committed.</summary>
    private readonly Dictionary<string, (ArchiveRestatement Restatement, ArchiveItem Item)> _restatements = [];
    /// <summary>Stored memories this unit's searches returned, as read: accesses that count only once the unit commits.</summary>
    private readonly Dictionary<string, Read> _reads = [];
    private readonly List<ConversationMessage> _messages = [];
    private readonly List<MemoryUpdate> _updates = [];
    private CoreMemory? _storedCore;
    private CoreMemory? _core;
    private bool _coreLoaded;
    private string? _requiredETag;
    private bool _etagRequired;
    private SessionState? _session;

    internal MemoryUnitOfWork(MemoryEngine engine, string userId, string sessionId)
    {
        _engine = engine;
        UserId = userId;
        SessionId = sessionId;
        Rewriter = engine.Rewriter;
    }

    /// <summary>The small model that rewrites a block a write would overflow (<see cref="BlockConsolidation"/>); null: the oldest lines move.</summary>
    public BlockRewriter? Rewriter { get; set; }

    public string UserId { get; }
    public string SessionId { get; }

    /// <summary>
    /// Adds the last commit skipped because the same memory was stored meanwhile (by a concurrent
    /// request), with the stored item: the add is not new, and the stored item is what to report.
    /// </summary>
    public IReadOnlyDictionary<string, ArchiveItem?> SkippedAdds => _skipped;

    /// <summary>True when this unit makes the memory current again: it had been superseded, and was said again (<see cref="AddArchiveAsync"/>).</summary>
    public bool Restates(string id) => _restatements.ContainsKey(id);
    public IReadOnlyList<MemoryUpdate> Updates => _updates;
    public MemoryEngine Engine => _engine;

    /// <summary>Makes the commit fail with a conflict unless the stored core still has this ETag.</summary>
    /// <param name="etag">The stored ETag; null: core memory must still be unwritten.</param>
    public void RequireCoreETag(string? etag)
    {
        _requiredETag = etag;
        _etagRequired = true;
    }

    /// <summary>Preloads core memory read elsewhere (the turn reads it in parallel with other things).</summary>
    public void UseCore(CoreMemory? stored)
    {
        _storedCore = stored;
        _core = stored ?? CoreMemory.CreateDefault(_engine.Limits.BlockLimit);
        _coreLoaded = true;
    }

    public async Task<CoreMemory> GetCoreAsync(CancellationToken cancellationToken = default)
    {
        if (!_coreLoaded) UseCore(await _engine.Store.GetCoreAsync(UserId, cancellationToken));
        return _core!;
    }

    public async Task<MemoryBlock?> EditCoreAsync(CoreEdit edit, bool byModel, CancellationToken cancellationToken = default)
    {
        var core = await GetCoreAsync(cancellationToken);
        // Stamped once: a replay after a conflict keeps the time the line was learnt.
        if (edit is AppendLine { At: null } append) edit = append with { At = _engine.Now() };
        if (edit is RewriteBlock { At: null } rewrite) edit = rewrite with { At = _engine.Now() };
        if (byModel && core.Find(edit.Label) is { ReadOnly: true })
            throw new MemoryValidationException("field", $"Core memory block '{edit.Label}' is read-only.");
        var edited = edit.ApplyTo(core, _engine.Limits);
        if (ReferenceEquals(edited, core)) return core.Find(edit.Label);
        _core = edited;
        _coreEdits.Add(edit);
        var block = edited.Find(edit.Label);
        _updates.Add(new("core", edit switch
        {
            AppendLine => "append",
            DeleteBlock => "delete",
            RewriteBlock => "consolidate",
            _ => "replace",
        }, edit.Label, null, edit is AppendLine a ? a.Line.Trim() : block?.Value ?? ""));
        return block;
    }

    public async Task<(ArchiveItem Item, bool Created)> AddArchiveAsync(NewMemory memory, CancellationToken cancellationToken = default)
    {
        var content = memory.Content.Trim();
        var id = LexicalTerms.ContentHash(content);
        if (_adds.TryGetValue(id, out var pending)) return (pending, false);
        if (_restatements.TryGetValue(id, out var restated)) return (restated.Item, false);
        var now = _engine.Now();
        var existing = await _engine.Store.GetArchiveItemAsync(UserId, id, cancellationToken);
        if (existing is not null && !IsForgotten(existing, now))
        {
            // Said again after it stopped being true: current again from when it was said (unless this
            // unit itself retired it). Said as of a time it was still true, it is the same past statement.
            var stated = memory.CreatedAt ?? now;
            return existing.SupersededAt is { } supersededAt && stated > supersededAt && !_supersessions.ContainsKey(id)
                ? (await RestateAsync(existing, stated, now, cancellationToken), false)
                : (existing, false);
        }
        // A stored memory past its forgetAt is forgotten already (the sweep just has not removed it):
        // the same content now is a new memory, which takes its place.
        if (existing is not null) _renewing[id] = now;

        // It enters memory now, whenever it happened: decay runs from now, so a memory dated a year
        // back is not born forgotten.
        var item = new ArchiveItem
        {
            Id = id,
            Content = content,
            Type = memory.Type,
            Importance = memory.Importance,
            CreatedAt = memory.CreatedAt ?? now,
            EnteredAt = now,
            LastAccessedAt = now,
            Metadata = memory.Metadata ?? new Dictionary<string, string>(),
        };
        // To the millisecond, as the stores keep times: the item reported is the item a read returns.
        item = item with { ForgetAt = _engine.Decay.ForgetAt(item) is { } forgetAt ? forgetAt.AddTicks(-(forgetAt.Ticks % TimeSpan.TicksPerMillisecond)) : null };
        // Never acknowledge a write no read can see: a memory at or under the forgetting threshold
        // on arrival would be stored forgotten.
        if (IsForgotten(item, now))
            throw new MemoryValidationException("importance",
                $"A '{item.Type.ToName()}' memory of importance {item.Importance} is at or under the forgetting threshold " +
                $"({_engine.Decay.Options.Threshold}) as it enters memory, so it would be forgotten at once: give it a higher importance.");
        item = item with { Embedding = await EmbedAsync(content, cancellationToken) };
        _adds[id] = item;
        _updates.Add(new("archive", "insert", null, id, content));
        return (item, true);
    }

    /// <summary>
    /// Candidates from the store's lexical and vector indexes plus this unit's own adds, ranked by
    /// the decay-aware score; what is returned counts as accessed if, and when, the unit commits
    /// (a request that fails or is refused has read nothing). Memories already past their
    /// forgetting point are not returned even if the sweep has not removed them yet.
    /// </summary>
    public async Task<IReadOnlyList<ScoredItem>> SearchArchiveAsync(string query, int top, CancellationToken cancellationToken = default) =>
        await SearchArchiveAsync(query, top, history: false, cancellationToken);

    /// <summary>As the other overload; with <paramref name="history"/>, superseded memories are found too.</summary>
    public async Task<IReadOnlyList<ScoredItem>> SearchArchiveAsync(string query, int top, bool history, CancellationToken cancellationToken = default)
    {
        var now = _engine.Now();
        var (terms, weights) = LexicalTerms.WeightedQuery(query, _engine.Search.CjkCharacterWeight, _engine.Search.ContextWeight);
        var vector = await EmbedAsync(query, cancellationToken);
        if (terms.Count == 0 && vector is null) return [];

        var (found, _) = await ArchiveCandidateSearch.FindAsync(_engine.Store, UserId, terms, weights, vector, _engine.Search.Candidates, _engine.Search, _adds.Values, cancellationToken);
        var candidates = found
            .Where(c => !IsForgotten(c.Item, now))
            .Select(c => _supersessions.TryGetValue(c.Item.Id, out var s) ? c with { Item = c.Item with { SupersededAt = s.At, SupersededBy = s.By, History = s.History } }
                : _restatements.TryGetValue(c.Item.Id, out var r) ? c with { Item = r.Item } : c)
            .Where(c => history || c.Item.SupersededAt is null)
            .ToList();

        // Only what clears a relevance floor is ranked, returned and counted as read.
        var ranked = ArchiveRanking.Relevant(candidates, _engine.Search)
            .Select(r => new ScoredItem(r.Candidate.Item, _engine.Decay.Score(r.Candidate.Item, r.Relevance, now)))
            .OrderByDescending(s => s.Score.Total)
            .ThenByDescending(s => s.Score.Relevance)
            .ThenByDescending(s => s.Item.CreatedAt)
            .ThenBy(s => s.Item.Id, StringComparer.Ordinal) // the same order on every store
            .Take(top)
            .ToList();

        for (var i = 0; i < ranked.Count; i++)
        {
            var accessed = _engine.Decay.Accessed(ranked[i].Item, now);
            if (_adds.ContainsKey(accessed.Id)) _adds[accessed.Id] = accessed;
            else _reads[accessed.Id] = _reads.TryGetValue(accessed.Id, out var read)
                ? read with { Count = read.Count + 1, At = now }
                : new Read(ranked[i].Item, 1, now);
            ranked[i] = ranked[i] with { Item = accessed };
        }
        return ranked;
    }

    /// <summary>Takes back the access a search counted for a stored item the caller was not given after all.</summary>
    public void ForgetAccess(string id)
    {
        if (!_reads.TryGetValue(id, out var read)) return;
        if (read.Count > 1) _reads[id] = read with { Count = read.Count - 1 };
        else _reads.Remove(id);
    }

    /// <summary>
    /// Marks a memory superseded by <paramref name="by"/> (a memory that contradicts it; null: it is
    /// simply no longer true). It keeps its content and stays readable, but leaves recall and default
    /// search; its history gains the period that ends now. Returns false when there is no such current
    /// memory, or when <paramref name="by"/> is not current itself: a replacement that is history
    /// already could close a cycle (A replaced by B, B by A), and then nothing would be current.
    /// </summary>
    public async Task<bool> SupersedeAsync(string id, string? by, CancellationToken cancellationToken = default) =>
        await SupersedeAsync(id, by, null, cancellationToken);

    /// <summary>As the public overload; ended at <paramref name="at"/> (null: now), no earlier than the memory became true.</summary>
    private async Task<bool> SupersedeAsync(string id, string? by, DateTimeOffset? at, CancellationToken cancellationToken)
    {
        if (id == by || _supersessions.ContainsKey(id) || _restatements.ContainsKey(id)) return false;
        if (by is not null && !await IsCurrentAsync(by, cancellationToken)) return false;
        var now = _engine.Now();
        if (_adds.TryGetValue(id, out var pending))
        {
            if (pending.SupersededAt is not null) return false;
            var end = Max(at ?? now, pending.CreatedAt);
            _adds[id] = pending with { SupersededAt = end, SupersededBy = by, History = [new(pending.CreatedAt, end, by)] };
        }
        else if (await _engine.Store.GetArchiveItemAsync(UserId, id, cancellationToken) is { SupersededAt: null } stored && !IsForgotten(stored, now))
        {
            var end = Max(at ?? now, stored.CreatedAt);
            _supersessions[id] = new(id, end, by) { History = [.. stored.Intervals, new(stored.CreatedAt, end, by)], Since = stored.EnteredAt, RequireCurrentReplacement = true };
        }
        else return false;
        _updates.Add(new("archive", "supersede", null, id, by ?? ""));
        return true;
    }

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    /// <summary>Whether this unit supersedes <paramref name="id"/> by <paramref name="by"/> (itself, or a restatement of <paramref name="by"/> did).</summary>
    public bool Supersedes(string id, string by) => _supersessions.TryGetValue(id, out var s) ? s.By == by : _adds.TryGetValue(id, out var a) && a.SupersededBy == by;

    /// <summary>Whether the memory is current as this unit sees it: stored or added, not forgotten, and not superseded.</summary>
    private async Task<bool> IsCurrentAsync(string id, CancellationToken cancellationToken)
    {
        if (_restatements.ContainsKey(id)) return true;
        if (_supersessions.ContainsKey(id)) return false;
        var item = _adds.GetValueOrDefault(id) ?? await _engine.Store.GetArchiveItemAsync(UserId, id, cancellationToken);
        return item is { SupersededAt: null } && !IsForgotten(item, _engine.Now());
    }

    /// <summary>
    /// A superseded memory stated again: current again, true from <paramref name="at"/> (when it was
    /// said again), and entered memory again <paramref name="now"/> (the instant the add read: said now,
    /// it is true from the instant it enters), so its decay starts anew as a new memory's would; its
    /// past periods are kept. What superseded it (the current end of that chain: it may have been
    /// superseded in turn) stops being true at <paramref name="at"/>, superseded by this one; so the
    /// chain ends in one current memory and never loops.
    /// </summary>
    private async Task<ArchiveItem> RestateAsync(ArchiveItem stored, DateTimeOffset at, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var item = stored with { SupersededAt = null, SupersededBy = null, CreatedAt = at, EnteredAt = now, LastAccessedAt = now, History = stored.Intervals };
        // To the millisecond, as the stores keep times (as an add does).
        item = item with { ForgetAt = _engine.Decay.ForgetAt(item) is { } forgetAt ? forgetAt.AddTicks(-(forgetAt.Ticks % TimeSpan.TicksPerMillisecond)) : null };
        _restatements[item.Id] = (new(item.Id, at, now, stored.SupersededAt!.Value, item.ForgetAt, item.History!), item);
        _updates.Add(new("archive", "restate", null, item.Id, item.Content));

        var seen = new HashSet<string>(StringComparer.Ordinal) { item.Id };
        for (var next = stored.SupersededBy; next is not null && seen.Add(next) && seen.Count <= MaxChain;)
        {
            if (_supersessions.TryGetValue(next, out var pending))
            {
                next = pending.By;
                continue;
            }
            var replacement = _adds.GetValueOrDefault(next) ?? await _engine.Store.GetArchiveItemAsync(UserId, next, cancellationToken);
            if (replacement is null || IsForgotten(replacement, now)) break;
            if (replacement.SupersededAt is null)
            {
                await SupersedeAsync(next, item.Id, at, cancellationToken);
                break;
            }
            next = replacement.SupersededBy;
        }
        return item;
    }

    /// <summary>How far a restatement follows what superseded it, what superseded that, and so on.</summary>
    private const int MaxChain = 32;

    public void AddMessage(string role, string content, string turnId)
    {
        var now = _engine.Now();
        // Version 7 GUIDs sort by time; a tick per message keeps a turn's messages in order.
        _messages.Add(new(Guid.CreateVersion7(now).ToString("N"), SessionId, turnId, role, content, now.AddTicks(_messages.Count)));
    }

    public IReadOnlyList<ConversationMessage> PendingMessages => _messages;

    public void SetSession(SessionState session) => _session = session;

    public async Task<IReadOnlyList<ConversationMessage>> SearchConversationAsync(string query, int limit, CancellationToken cancellationToken = default)
    {
        var terms = LexicalTerms.ForQuery(query);
        if (terms.Count == 0) return [];
        var stored = await _engine.Store.SearchMessagesAsync(UserId, terms, limit, cancellationToken);
        return _messages.Where(m => LexicalTerms.Relevance(terms, m.Content) > 0)
            .Reverse()
            .Concat(stored)
            .Take(limit)
            .ToList();
    }

    /// <summary>
    /// Writes everything at once; on a core conflict re-reads core and applies the edits again. The
    /// searches' accesses count from here: with the recorder, handed to it once the rest is written;
    /// without, written in the same transaction.
    /// </summary>
    public async Task CommitAsync(CancellationToken cancellationToken = default)
    {
        var recorder = _engine.Accesses;
        var accesses = recorder is null ? _reads.Values.Select(r => _engine.Decay.Access(r.Item, r.Count, r.At)).ToList() : [];
        for (var attempt = 1; ; attempt++)
        {
            var changes = new MemoryChangeSet
            {
                Core = _coreEdits.Count > 0 ? _core! with { ETag = _etagRequired ? _requiredETag : _storedCore?.ETag } : null,
                ArchiveAdds = [.. _adds.Values.Where(a => !_renewing.ContainsKey(a.Id))],
                ArchiveRenewals = [.. _adds.Values.Where(a => _renewing.ContainsKey(a.Id)).Select(a => new ArchiveRenewal(a, _renewing[a.Id]))],
                Accesses = accesses,
                ArchiveSupersessions = [.. _supersessions.Values],
                ArchiveRestatements = [.. _restatements.Values.Select(r => r.Restatement)],
                Messages = [.. _messages],
                Session = _session,
            };
            if (changes.IsEmpty)
            {
                RecordReads(recorder);
                return;
            }
            try
            {
                var result = await _engine.Store.CommitAsync(UserId, changes, cancellationToken);
                if (changes.Core is not null)
                {
                    _core = _core! with { ETag = result.ETag };
                    _storedCore = _core;
                    _coreEdits.Clear();
                }
                _skipped.Clear();
                var again = new List<ArchiveItem>();
                foreach (var id in result.SkippedArchiveIds)
                {
                    var stored = await _engine.Store.GetArchiveItemAsync(UserId, id, cancellationToken);
                    // A renewal finds nothing to renew when the sweep removed the forgotten item meanwhile: then it is an add.
                    if (stored is null && _renewing.ContainsKey(id) && _adds.TryGetValue(id, out var renewal)) again.Add(renewal);
                    else _skipped[id] = stored;
                }
                if (again.Count > 0)
                {
                    var added = await _engine.Store.CommitAsync(UserId, new MemoryChangeSet { ArchiveAdds = again }, cancellationToken);
                    foreach (var id in added.SkippedArchiveIds) _skipped[id] = await _engine.Store.GetArchiveItemAsync(UserId, id, cancellationToken);
                }
                _adds.Clear();
                _renewing.Clear();
                _supersessions.Clear();
                _restatements.Clear();
                _messages.Clear();
                _session = null;
                RecordReads(recorder);
                return;
            }
            catch (MemoryConflictException e) when (e.Document == "session" && _session is not null)
            {
                // A concurrent turn of the same session folded the summary first; the next turn folds again.
                _session = null;
            }
            catch (MemoryConflictException e) when (e.Document == "core" && !_etagRequired && changes.Core is not null && attempt < MaxCommitAttempts)
            {
                _engine.Logger.LogDebug("Core memory of {UserId} changed meanwhile; applying {Edits} edits again (attempt {Attempt})",
                    UserId, _coreEdits.Count, attempt);
                var fresh = await _engine.Store.GetCoreAsync(UserId, cancellationToken);
                _storedCore = fresh;
                var core = fresh ?? CoreMemory.CreateDefault(_engine.Limits.BlockLimit);
                foreach (var edit in _coreEdits) core = edit.ReapplyTo(core, _engine.Limits);
                _core = core;
                // Real time, not the engine's clock: a backoff is no part of the memory model.
                await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(1, 2 + Math.Min(attempt, 10) * 5)), cancellationToken);
            }
        }
    }

    /// <summary>The reads of a committed unit: to the recorder (off the request's path), and not again.</summary>
    private void RecordReads(AccessRecorder? recorder)
    {
        if (recorder is not null)
            foreach (var read in _reads.Values) recorder.Record(UserId, read.Item, read.At, read.Count);
        _reads.Clear();
    }

    private sealed record Read(ArchiveItem Item, int Count, DateTimeOffset At);

    /// <summary>True once an embedding call of this unit failed: its searches were lexical, its adds stored without vector.</summary>
    public bool EmbeddingsFailed { get; private set; }

    private async Task<ReadOnlyMemory<float>?> EmbedAsync(string text, CancellationToken cancellationToken)
    {
        if (EmbeddingsFailed) return null;
        var (vector, failed) = await _engine.TryEmbedAsync(text, cancellationToken);
        EmbeddingsFailed = failed;
        return vector;
    }

    /// <summary>Past its forgetting point: gone for every reader, whether or not the sweep has removed it yet.</summary>
    internal static bool IsForgotten(ArchiveItem item, DateTimeOffset now) => item.ForgetAt is { } forgetAt && forgetAt <= now;
}
