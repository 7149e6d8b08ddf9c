using System.Net;
using Microsoft.Azure.Cosmos;
using ServerlessMemory.Core;

namespace ServerlessMemory.Cosmos;

/// <summary>What a planned write does, in the order a change set's writes are batched.</summary>
internal enum WriteKind
{
    /// <summary>Create (no ETag yet) or replace with <c>If-Match</c>: the write that can conflict.</summary>
    Core,
    /// <summary>Create or replace with <c>If-Match</c>, like core.</summary>
    Session,
    /// <summary>A delete of an archive item (or, when erasing a user, of any document).</summary>
    Delete,
    ArchiveCreate,
    /// <summary>
    /// A patch that changes nothing (<c>supersededBy</c> stays null) of the replacement named by the
    /// supersession right after it, only while that replacement is current: the two land or are skipped together.
    /// </summary>
    ArchiveGuard,
    /// <summary>A patch: set <c>supersededAt</c>, <c>supersededBy</c> and <c>history</c>, only over a current item.</summary>
    ArchiveSupersede,
    /// <summary>A patch: a superseded item current again (cleared <c>supersededAt</c>, new <c>createdAt</c> and <c>enteredAt</c>), only if still superseded as read.</summary>
    ArchiveRestate,
    /// <summary>A patch of every field of an item already forgotten, only if it still is (a filter predicate on <c>forgetAt</c>).</summary>
    ArchiveRenew,
    /// <summary>A patch: increment <c>accessCount</c>, set <c>lastAccessedAt</c> and <c>forgetAt</c>.</summary>
    ArchiveAccess,
    MessageCreate,
}

/// <summary>
/// One document operation of a change set, usable both inside a <see cref="TransactionalBatch"/>
/// (<see cref="AddTo"/>) and on its own as a point operation (<see cref="ExecuteAsync"/>), with the
/// same bytes either way.
/// </summary>
internal sealed class CosmosWrite
{
    /// <summary>Overhead counted per operation on top of its body: id, headers, batch framing.</summary>
    public const int OperationOverheadBytes = 512;

    private readonly byte[]? _body;
    private readonly IReadOnlyList<PatchOperation>? _patch;

    private CosmosWrite(WriteKind kind, string documentId, byte[]? body, IReadOnlyList<PatchOperation>? patch, string? ifMatch, int patchBytes = 0,
        string? filterPredicate = null, CosmosWrite? whenMissing = null)
    {
        WhenMissing = whenMissing;
        FilterPredicate = filterPredicate;
        Kind = kind;
        DocumentId = documentId;
        _body = body;
        _patch = patch;
        IfMatch = ifMatch;
        Bytes = OperationOverheadBytes + (body?.Length ?? patchBytes);
    }

    public WriteKind Kind { get; }
    public string DocumentId { get; }
    /// <summary>The ETag a replace requires; null for a create and for everything else.</summary>
    public string? IfMatch { get; }
    /// <summary>Estimated size in the batch request, for its 2 MB limit.</summary>
    public int Bytes { get; }
    /// <summary>A create (of core or a session when it has no ETag yet), not a replace.</summary>
    public bool IsCreate => Kind is WriteKind.ArchiveCreate or WriteKind.MessageCreate || (Kind is WriteKind.Core or WriteKind.Session && IfMatch is null);
    /// <summary>Core and session are written with optimistic concurrency; a failure there is the caller's conflict.</summary>
    public bool CanConflict => Kind is WriteKind.Core or WriteKind.Session;
    public IReadOnlyList<PatchOperation>? Patch => _patch;
    /// <summary>What to write instead when the target is gone: a renewal of a swept item creates it anew.</summary>
    public CosmosWrite? WhenMissing { get; }
    /// <summary>The condition a patch is applied under (Cosmos DB answers 412 when it does not hold).</summary>
    public string? FilterPredicate { get; }
    /// <summary>The archive item an add, a renewal or a restatement writes: what the commit reports when it was skipped.</summary>
    public string? ArchiveId => Kind is WriteKind.ArchiveCreate or WriteKind.ArchiveRenew or WriteKind.ArchiveRestate
        ? DocumentIds.Unescape(DocumentId[ArchiveDocument.Prefix.Length..]) : null;

    public static CosmosWrite Core(string userId, CoreMemory core) =>
        new(WriteKind.Core, CoreDocument.DocumentId, CosmosJson.Serialize(CoreDocument.From(userId, core)), null, core.ETag);

    public static CosmosWrite Session(string userId, SessionState session) =>
        new(WriteKind.Session, SessionDocument.DocumentId(session.SessionId), CosmosJson.Serialize(SessionDocument.From(userId, session)), null, session.ETag);

    public static CosmosWrite ArchiveCreate(string userId, ArchiveItem item, int? embeddingDimensions = null) =>
        new(WriteKind.ArchiveCreate, ArchiveDocument.DocumentId(item.Id), CosmosJson.Serialize(ArchiveDocument.From(userId, item, embeddingDimensions)), null, null);

    /// <summary>Writes every field of the item over a stored one that is forgotten by <c>dueBy</c> (the 10 operations a patch may hold; terms are those of the same content, supersededBy means nothing without supersededAt, lastAccessedAt reads as enteredAt when earlier).</summary>
    public static CosmosWrite ArchiveRenew(string userId, ArchiveRenewal renewal, int? embeddingDimensions = null)
    {
        var d = ArchiveDocument.From(userId, renewal.Item, embeddingDimensions);
        var body = CosmosJson.Serialize(d);
        return new(WriteKind.ArchiveRenew, d.Id, null,
        [
            PatchOperation.Set("/content", d.Content),
            PatchOperation.Set("/memoryType", d.MemoryType),
            PatchOperation.Set("/supersededAt", d.SupersededAt),
            PatchOperation.Set("/importance", d.Importance),
            PatchOperation.Set("/createdAt", d.CreatedAt),
            // Not lastAccessedAt: the renewed item has not been read since it entered, and an access
            // earlier than its entry reads as its entry (ArchiveDocument.ToItem).
            PatchOperation.Set("/enteredAt", d.EnteredAt),
            PatchOperation.Set("/accessCount", d.AccessCount),
            PatchOperation.Set("/metadata", d.Metadata),
            // Without a vector (an outage), the stored one, of the same content, stays until the backfill replaces it.
            d.Embedding is null ? PatchOperation.Set(ArchiveDocument.PendingVectorPath, true) : PatchOperation.Set("/embedding", d.Embedding),
            PatchOperation.Set("/forgetAt", d.ForgetAt),
        ], null, patchBytes: body.Length, filterPredicate: $"FROM c WHERE c.forgetAt <= '{CosmosTime.Format(renewal.DueBy)}'",
        whenMissing: ArchiveCreate(userId, renewal.Item, embeddingDimensions));
    }

    public static CosmosWrite ArchiveDelete(string itemId) => Delete(ArchiveDocument.DocumentId(itemId));

    /// <summary>
    /// Marks an item superseded unless it is already (a patch under a filter predicate; 412 is skipped);
    /// with a history, only over the statement it was read from (its <c>enteredAt</c>, or for a document
    /// written before that was kept, its <c>createdAt</c>, which <see cref="ArchiveDocument.ToItem"/> reads as it).
    /// </summary>
    public static CosmosWrite ArchiveSupersede(ArchiveSupersession supersession)
    {
        List<PatchOperation> patch =
        [
            PatchOperation.Set("/supersededAt", CosmosTime.Format(supersession.At)),
            PatchOperation.Set("/supersededBy", supersession.By),
        ];
        var filter = Current;
        if (supersession is { History: { } history, Since: { } since })
        {
            patch.Add(PatchOperation.Set("/history", HistoryDocument.From(since, history)));
            // Our own formatted time, not user text: safe inside the predicate.
            var entered = CosmosTime.Format(since);
            filter += $" AND (c.enteredAt = '{entered}' OR (NOT IS_DEFINED(c.enteredAt) AND c.createdAt = '{entered}'))";
        }
        return new(WriteKind.ArchiveSupersede, ArchiveDocument.DocumentId(supersession.Id), null, patch, null,
            patchBytes: 256 + 128 * (supersession.History?.Count ?? 0), filterPredicate: filter);
    }

    /// <summary>The guard of a supersession that needs its replacement current (<see cref="WriteKind.ArchiveGuard"/>).</summary>
    public static CosmosWrite ArchiveGuard(string replacementId) =>
        new(WriteKind.ArchiveGuard, ArchiveDocument.DocumentId(replacementId), null, [PatchOperation.Set<string?>("/supersededBy", null)], null,
            patchBytes: 128, filterPredicate: Current);

    private const string Current = "FROM c WHERE (NOT IS_DEFINED(c.supersededAt) OR IS_NULL(c.supersededAt))";

    /// <summary>
    /// A superseded item current again from the restatement, its history kept, only if it is still
    /// superseded as read (412 and 404 are skipped, and reported as skipped).
    /// </summary>
    public static CosmosWrite ArchiveRestate(ArchiveRestatement restatement) =>
        new(WriteKind.ArchiveRestate, ArchiveDocument.DocumentId(restatement.Id), null,
        [
            PatchOperation.Set<string?>("/supersededAt", null),
            PatchOperation.Set<string?>("/supersededBy", null),
            PatchOperation.Set("/createdAt", CosmosTime.Format(restatement.CreatedAt)),
            PatchOperation.Set("/enteredAt", CosmosTime.Format(restatement.EnteredAt)),
            PatchOperation.Set("/lastAccessedAt", CosmosTime.Format(restatement.EnteredAt)),
            PatchOperation.Set("/forgetAt", CosmosTime.Format(restatement.ForgetAt)),
            PatchOperation.Set("/history", HistoryDocument.From(restatement.EnteredAt, restatement.History)),
        ], null, patchBytes: 512 + 128 * restatement.History.Count,
        filterPredicate: $"FROM c WHERE c.supersededAt = '{CosmosTime.Format(restatement.SupersededAt)}'");

    public static CosmosWrite Delete(string documentId) => new(WriteKind.Delete, documentId, null, null, null);

    public static CosmosWrite ArchiveAccess(ArchiveAccess access) =>
        new(WriteKind.ArchiveAccess, ArchiveDocument.DocumentId(access.Id), null,
        [
            PatchOperation.Increment("/accessCount", access.Count),
            PatchOperation.Set("/lastAccessedAt", CosmosTime.Format(access.At)),
            PatchOperation.Set("/forgetAt", CosmosTime.Format(access.ForgetAt)),
        ], null, patchBytes: 256);

    public static CosmosWrite MessageCreate(string userId, ConversationMessage message) =>
        new(WriteKind.MessageCreate, MessageDocument.DocumentId(message.Id), CosmosJson.Serialize(MessageDocument.From(userId, message)), null, null);

    /// <summary>
    /// A change set as writes, in batch order: core and session first (the writes that can conflict,
    /// so that they always land in the first batch), then deletes, creates, access patches and
    /// messages. Mirrors SQLite: an add whose id is also deleted ends deleted, a second add of an id
    /// is ignored, and an access to a deleted item is dropped. With <paramref name="embeddingDimensions"/>,
    /// an embedding of any other length is left out of the document (see <see cref="ArchiveDocument.From"/>).
    /// </summary>
    public static List<CosmosWrite> Plan(string userId, MemoryChangeSet changes, int? embeddingDimensions = null)
    {
        var writes = new List<CosmosWrite>();
        if (changes.Core is { } core) writes.Add(Core(userId, core));
        if (changes.Session is { } session) writes.Add(Session(userId, session));

        var deleted = new HashSet<string>(StringComparer.Ordinal);
        foreach (var id in changes.ArchiveDeletes)
            if (deleted.Add(id)) writes.Add(ArchiveDelete(id));
        var added = new HashSet<string>(StringComparer.Ordinal);
        foreach (var renewal in changes.ArchiveRenewals)
            if (!deleted.Contains(renewal.Item.Id) && added.Add(renewal.Item.Id)) writes.Add(ArchiveRenew(userId, renewal, embeddingDimensions));
        foreach (var item in changes.ArchiveAdds)
            if (!deleted.Contains(item.Id) && added.Add(item.Id)) writes.Add(ArchiveCreate(userId, item, embeddingDimensions));
        foreach (var access in changes.Accesses)
            if (!deleted.Contains(access.Id)) writes.Add(ArchiveAccess(access));
        // Restatements first: what a restated memory replaces is superseded by a current one.
        foreach (var restatement in changes.ArchiveRestatements)
            if (!deleted.Contains(restatement.Id)) writes.Add(ArchiveRestate(restatement));
        foreach (var supersession in changes.ArchiveSupersessions)
        {
            if (deleted.Contains(supersession.Id)) continue;
            if (supersession is { RequireCurrentReplacement: true, By: { } by }) writes.Add(ArchiveGuard(by));
            writes.Add(ArchiveSupersede(supersession));
        }
        foreach (var message in changes.Messages) writes.Add(MessageCreate(userId, message));
        return writes;
    }

    /// <summary>
    /// Cuts planned writes into transactional batches within the service's limits (100 operations,
    /// 2 MB). Writes keep their order, so the conflicting ones are in the first batch, filled up
    /// with as much of the rest as fits. Only a batch is atomic: see <see cref="CosmosMemoryStore.CommitAsync"/>.
    /// </summary>
    public static List<List<CosmosWrite>> Split(IReadOnlyList<CosmosWrite> writes, int maxOperations = CosmosMemoryStore.MaxBatchOperations,
        int maxBytes = CosmosMemoryStore.MaxBatchBytes)
    {
        var batches = new List<List<CosmosWrite>>();
        var current = new List<CosmosWrite>();
        var bytes = 0;
        for (var i = 0; i < writes.Count; i++)
        {
            var write = writes[i];
            // A guard goes in the batch of the supersession it guards.
            var (operations, size) = write.Kind == WriteKind.ArchiveGuard && i + 1 < writes.Count ? (2, write.Bytes + writes[i + 1].Bytes) : (1, write.Bytes);
            if (current.Count > 0 && (current.Count + operations > maxOperations || bytes + size > maxBytes))
            {
                batches.Add(current);
                current = [];
                bytes = 0;
            }
            current.Add(write);
            bytes += write.Bytes;
        }
        if (current.Count > 0) batches.Add(current);
        return batches;
    }

    public void AddTo(TransactionalBatch batch)
    {
        switch (Kind)
        {
            case WriteKind.Delete:
                batch.DeleteItem(DocumentId, NoContent);
                break;
            case WriteKind.ArchiveAccess or WriteKind.ArchiveRenew or WriteKind.ArchiveGuard or WriteKind.ArchiveSupersede or WriteKind.ArchiveRestate:
                batch.PatchItem(DocumentId, _patch!, new TransactionalBatchPatchItemRequestOptions { EnableContentResponseOnWrite = false, FilterPredicate = FilterPredicate });
                break;
            default:
                if (IsCreate) batch.CreateItemStream(new MemoryStream(_body!, writable: false), NoContent);
                else batch.ReplaceItemStream(DocumentId, new MemoryStream(_body!, writable: false),
                    new TransactionalBatchItemRequestOptions { IfMatchEtag = IfMatch, EnableContentResponseOnWrite = false });
                break;
        }
    }

    /// <summary>The same operation on its own, outside any batch.</summary>
    public async Task<WriteResult> ExecuteAsync(Container container, PartitionKey partitionKey, CancellationToken cancellationToken)
    {
        var options = new ItemRequestOptions { EnableContentResponseOnWrite = false };
        using var response = Kind switch
        {
            WriteKind.Delete => await container.DeleteItemStreamAsync(DocumentId, partitionKey, options, cancellationToken),
            WriteKind.ArchiveAccess or WriteKind.ArchiveRenew or WriteKind.ArchiveGuard or WriteKind.ArchiveSupersede or WriteKind.ArchiveRestate => await container.PatchItemStreamAsync(DocumentId, partitionKey, _patch!,
                new PatchItemRequestOptions { EnableContentResponseOnWrite = false, FilterPredicate = FilterPredicate }, cancellationToken),
            _ when IsCreate => await container.CreateItemStreamAsync(new MemoryStream(_body!, writable: false), partitionKey, options, cancellationToken),
            _ => await container.ReplaceItemStreamAsync(new MemoryStream(_body!, writable: false), DocumentId, partitionKey,
                new ItemRequestOptions { IfMatchEtag = IfMatch, EnableContentResponseOnWrite = false }, cancellationToken),
        };
        return new(response.StatusCode, response.Headers.ETag, response.Headers.RequestCharge, response.ErrorMessage);
    }

    /// <summary>
    /// What a failed write means. A conflict on core or session is the caller's conflict. A create of
    /// something that exists (the same memory added concurrently, a message written twice), and a
    /// delete or patch of something gone (forgotten by the sweep meanwhile) are what SQLite does
    /// silently: the write is dropped and the rest goes ahead.
    /// </summary>
    public WriteFailure Classify(HttpStatusCode status) => status switch
    {
        HttpStatusCode.Conflict or HttpStatusCode.PreconditionFailed or HttpStatusCode.NotFound when CanConflict => WriteFailure.Conflict,
        HttpStatusCode.Conflict when IsCreate => WriteFailure.Skip,
        HttpStatusCode.NotFound when Kind is WriteKind.Delete or WriteKind.ArchiveAccess => WriteFailure.Skip,
        // A renewal of an item no longer forgotten (renewed or read meanwhile) is skipped; the engine re-reads it.
        HttpStatusCode.PreconditionFailed when Kind is WriteKind.ArchiveRenew => WriteFailure.Skip,
        // A supersession of an item superseded already, or gone, is skipped; so is one whose replacement is (its guard failed).
        HttpStatusCode.PreconditionFailed or HttpStatusCode.NotFound when Kind is WriteKind.ArchiveGuard or WriteKind.ArchiveSupersede or WriteKind.ArchiveRestate => WriteFailure.Skip,
        // One already swept is added anew, as SQLite does.
        HttpStatusCode.NotFound when WhenMissing is not null => WriteFailure.Missing,
        _ => WriteFailure.Error,
    };

    /// <summary>The conflict this write's failure means, in SQLite's words.</summary>
    public MemoryConflictException Conflict() => Kind == WriteKind.Core
        ? new(IfMatch is null ? "Core memory was created by another request." : "Core memory has changed since it was read.", "core")
        : new($"Session '{DocumentIds.Unescape(DocumentId[SessionDocument.Prefix.Length..])}' was changed by another request.", "session");

    public override string ToString() => $"{Kind} {DocumentId}";

    private static readonly TransactionalBatchItemRequestOptions NoContent = new() { EnableContentResponseOnWrite = false };
}

internal enum WriteFailure
{
    /// <summary>The target is gone: send <see cref="CosmosWrite.WhenMissing"/> in its place.</summary>
    Missing,
    Conflict,
    Skip,
    Error,
}

internal sealed record WriteResult(HttpStatusCode StatusCode, string? ETag, double RequestCharge, string? ErrorMessage)
{
    public bool IsSuccess => (int)StatusCode is >= 200 and < 300;
}
