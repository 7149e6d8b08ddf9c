using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Azure.Cosmos;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ServerlessMemory.Core;

namespace ServerlessMemory.Cosmos;

/// <summary>
/// The production store: one Cosmos DB container partitioned by <c>/userId</c>, so that a user's
/// core memory, archive, messages and sessions share one logical partition. A change set commits as
/// one <see cref="TransactionalBatch"/>; core and sessions are written with <c>If-Match</c> on their
/// <c>_etag</c>; accesses are patches; lexical search reads the <c>terms</c> array (which works for
/// Chinese, see <see cref="ArchiveDocument"/>) and vector search the container's vector index. The
/// SQL is in <see cref="CosmosQueries"/>. Every call sums the request charges it caused and logs them.
/// </summary>
public sealed partial class CosmosMemoryStore : IMemoryStore
{
    /// <summary>The service's limit on operations in one transactional batch.</summary>
    public const int MaxBatchOperations = 100;

    /// <summary>The service allows 2 MB per batch request; this leaves room for the batch's own framing.</summary>
    public const int MaxBatchBytes = 1_900_000;

    private const int SweepPageSize = 100;
    private const int SweepParallelism = 8;
    private const int MaxEraseRounds = 16;

    private readonly CosmosClient _client;
    private readonly CosmosStoreOptions _options;
    private readonly ILogger _logger;
    private readonly Lock _readyLock = new();
    private Task<Container>? _ready;

    /// <summary>A store on the process-wide client for these options (one <see cref="CosmosClient"/> per account and key).</summary>
    public CosmosMemoryStore(CosmosStoreOptions options, ILogger<CosmosMemoryStore>? logger = null)
        : this(CosmosClients.GetOrCreate(options), options, logger)
    {
    }

    /// <summary>A store on a client the caller owns and configured (tests, or a host that builds its own).</summary>
    public CosmosMemoryStore(CosmosClient client, CosmosStoreOptions options, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(options);
        if (options.EmbeddingDimensions <= 0)
            throw new ArgumentOutOfRangeException(nameof(options), "Cosmos:EmbeddingDimensions must be positive.");
        _client = client;
        _options = options;
        _logger = logger ?? NullLogger.Instance;
    }

    public string Name => "cosmos";

    /// <summary>
    /// Test-only: runs queries with the SDK's optimistic direct execution, which the local test
    /// server needs (it cannot make query plans). The composition root never sets it: ODE is off by
    /// default since SDK 3.39.2 for its continuation-token and partition-split issues.
    /// </summary>
    internal bool OptimisticDirectExecution { get; init; }

    private QueryRequestOptions QueryOptions(string? userId, int? maxItemCount = null) => new()
    {
        PartitionKey = userId is null ? null : new PartitionKey(userId),
        MaxItemCount = maxItemCount,
        EnableOptimisticDirectExecution = OptimisticDirectExecution,
    };

    public async Task<CoreMemory?> GetCoreAsync(string userId, CancellationToken cancellationToken = default)
    {
        var meter = RequestMeter.Start();
        var document = await ReadAsync<CoreDocument>(userId, CoreDocument.DocumentId, meter, cancellationToken);
        Log(nameof(GetCoreAsync), userId, meter);
        return document?.ToCore();
    }

    /// <summary>
    /// Writes the change set as one transactional batch: all of it or none. A batch holds at most 100
    /// operations and 2 MB; a larger change set (a bulk import, say) is cut into several batches, the
    /// first holding core and the session (the writes that can conflict) and as much else as fits. The
    /// trade-off: a conflict still leaves nothing written, but if a later batch fails for another
    /// reason (throttling past the SDK's retries, an outage), the earlier ones stay written. Every
    /// write is one that a retry of the same change set skips or repeats harmlessly (creates of what
    /// exists and deletes of what is gone are dropped), except access counts, which may count twice.
    /// </summary>
    public async Task<CommitResult> CommitAsync(string userId, MemoryChangeSet changes, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(changes);
        if (changes.IsEmpty) return CommitResult.None;
        var meter = RequestMeter.Start();
        var writes = CosmosWrite.Plan(userId, changes, _options.EmbeddingDimensions);
        var batches = CosmosWrite.Split(writes);
        if (changes.Atomic && batches.Count > 1)
            throw new ChangeSetTooLargeException($"The change set needs {batches.Count} batches; one holds {MaxBatchOperations} operations and {MaxBatchBytes} bytes.");
        string? etag = null;
        var skipped = new List<string>();
        try
        {
            if (writes.Count == 1)
            {
                // One write is atomic on its own: a point operation costs less than a batch of one.
                var single = await ExecuteAsync(userId, writes[0], cancellationToken);
                meter.Add(single.RequestCharge);
                if (single.IsSuccess && writes[0].Kind == WriteKind.Core) etag = single.ETag;
                if (!single.IsSuccess && writes[0].ArchiveId is { } id) skipped.Add(id);
            }
            else
            {
                foreach (var batch in batches)
                    etag = await ExecuteBatchAsync(userId, batch, meter, cancellationToken, skipped) ?? etag;
            }
        }
        finally
        {
            LogCommit(userId, writes.Count, writes.Count == 1 ? 0 : batches.Count, meter);
        }
        return new(changes.Core is null ? null : etag, skipped);
    }

    /// <summary>
    /// Runs one batch; returns the new core ETag when it wrote core. A write that failed only because
    /// its target exists already or is gone is dropped and the batch sent again without it.
    /// </summary>
    internal async Task<string?> ExecuteBatchAsync(string userId, IReadOnlyList<CosmosWrite> writes, RequestMeter meter, CancellationToken cancellationToken,
        List<string>? skippedArchiveIds = null)
    {
        var container = await ContainerAsync(cancellationToken);
        var partitionKey = new PartitionKey(userId);
        var pending = writes.ToList();
        while (pending.Count > 0)
        {
            var batch = container.CreateTransactionalBatch(partitionKey);
            foreach (var write in pending) write.AddTo(batch);
            using var response = await batch.ExecuteAsync(cancellationToken);
            meter.Add(response.RequestCharge);
            if (response.IsSuccessStatusCode)
            {
                var core = pending.FindIndex(w => w.Kind == WriteKind.Core);
                return core >= 0 ? response[core].ETag : null;
            }

            // An operation's failure fails the batch with that operation's status and marks the
            // others 424 (failed dependency); a batch refused as a whole gives every operation its status.
            var failed = -1;
            for (var i = 0; i < response.Count && failed < 0; i++)
                if (response[i].StatusCode is not (HttpStatusCode)424 && !response[i].IsSuccessStatusCode) failed = i;
            var whole = failed < 0 || (pending.Count > 1 && Enumerable.Range(0, response.Count).All(i => response[i].StatusCode == response[failed].StatusCode));
            var status = whole ? response.StatusCode : response[failed].StatusCode;
            var outcome = whole ? WriteFailure.Error : pending[failed].Classify(status);
            if (outcome == WriteFailure.Conflict) throw pending[failed].Conflict();
            if (outcome == WriteFailure.Missing)
            {
                pending[failed] = pending[failed].WhenMissing!;
                continue;
            }
            if (outcome == WriteFailure.Error)
                throw new CosmosException(
                    $"The transactional batch for user '{userId}' failed with {(int)status} at {(whole ? $"the batch of {pending.Count}" : pending[failed].ToString())}: {response.ErrorMessage}",
                    status, 0, response.ActivityId, response.RequestCharge);
            LogSkipped(userId, pending[failed].ToString(), (int)status);
            if (pending[failed].ArchiveId is { } skipped) skippedArchiveIds?.Add(skipped);
            // A failed guard takes the supersession it guards with it.
            pending.RemoveRange(failed, pending[failed].Kind == WriteKind.ArchiveGuard && failed + 1 < pending.Count ? 2 : 1);
        }
        return null;
    }

    /// <summary>
    /// One write as a point operation, with the same meaning of failures as in a batch (a conflict
    /// throws, a create of what exists or a delete of what is gone is skipped): how
    /// <see cref="CommitAsync"/> writes a change set of one write.
    /// </summary>
    internal async Task<WriteResult> ExecuteAsync(string userId, CosmosWrite write, CancellationToken cancellationToken = default)
    {
        var container = await ContainerAsync(cancellationToken);
        var result = await write.ExecuteAsync(container, new PartitionKey(userId), cancellationToken);
        if (result.IsSuccess) return result;
        return write.Classify(result.StatusCode) switch
        {
            WriteFailure.Conflict => throw write.Conflict(),
            WriteFailure.Skip => result,
            WriteFailure.Missing => await ExecuteAsync(userId, write.WhenMissing!, cancellationToken),
            _ => throw new CosmosException($"{write} failed with {(int)result.StatusCode}: {result.ErrorMessage}",
                result.StatusCode, 0, null, result.RequestCharge),
        };
    }

    public async Task<ArchiveItem?> GetArchiveItemAsync(string userId, string id, CancellationToken cancellationToken = default)
    {
        var meter = RequestMeter.Start();
        var document = await ReadAsync<ArchiveDocument>(userId, ArchiveDocument.DocumentId(id), meter, cancellationToken);
        Log(nameof(GetArchiveItemAsync), userId, meter);
        return document?.ToItem();
    }

    /// <summary>A point delete: the service answers one of concurrent deletes 204 and the rest 404, so exactly one says it deleted it.</summary>
    public async Task<bool> DeleteArchiveItemAsync(string userId, string id, CancellationToken cancellationToken = default)
    {
        var meter = RequestMeter.Start();
        var container = await ContainerAsync(cancellationToken);
        using var response = await container.DeleteItemStreamAsync(ArchiveDocument.DocumentId(id), new PartitionKey(userId), cancellationToken: cancellationToken);
        meter.Add(response.Headers.RequestCharge);
        Log(nameof(DeleteArchiveItemAsync), userId, meter);
        if (response.StatusCode == HttpStatusCode.NotFound) return false;
        response.EnsureSuccessStatusCode();
        return true;
    }

    public async Task<Page<ArchiveItem>> ListArchiveAsync(string userId, int limit, string? continuationToken, CancellationToken cancellationToken = default)
    {
        var meter = RequestMeter.Start();
        var (rows, token) = await PageAsync<ArchiveDocument>(userId, CosmosQueries.ListArchiveQuery(userId), limit, continuationToken, meter, cancellationToken);
        Log(nameof(ListArchiveAsync), userId, meter);
        return new([.. rows.Select(r => r.ToItem())], token);
    }

    /// <summary>
    /// The candidate contract on Cosmos DB: the id and content of every item whose <c>terms</c> hold a
    /// query term (the newest <see cref="CosmosQueries.MaxLexicalMatches"/>), each term's count and the
    /// item's length counted here from its content by <see cref="LexicalTerms.Counts"/>, as SQLite's
    /// index counts them; the user's memory count and average length read beside, in parallel. The
    /// engine scores them, the same as on SQLite.
    /// </summary>
    public async Task<LexicalMatches> FindLexicalMatchesAsync(string userId, IReadOnlyList<string> terms, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(terms);
        var used = LexicalTerms.FilterTerms(terms);
        if (used.Count == 0) return LexicalMatches.None;
        var meter = RequestMeter.Start();
        var rows = QueryAsync<LexicalRow>(userId, CosmosQueries.ArchiveLexicalQuery(userId, used), meter, cancellationToken);
        var count = QueryAsync<long>(userId, CosmosQueries.ArchiveCountQuery(userId), meter, cancellationToken);
        var average = QueryAsync<double?>(userId, CosmosQueries.ArchiveAverageLengthQuery(userId), meter, cancellationToken);
        await Task.WhenAll(rows, count, average);

        var found = await rows;
        var complete = found.Count < CosmosQueries.MaxLexicalMatches;
        var frequency = new Dictionary<string, long>(StringComparer.Ordinal);
        if (!complete)
        {
            // Past the cap: the memories holding every term, however old, and each term's true count.
            var all = QueryAsync<LexicalRow>(userId, CosmosQueries.ArchiveLexicalAllQuery(userId, used), meter, cancellationToken);
            var counts = used.Select(t => QueryAsync<long>(userId, CosmosQueries.TermCountQuery(userId, t), meter, cancellationToken)).ToList();
            await Task.WhenAll([all, .. counts]);
            var read = found.Select(r => r.Id).ToHashSet(StringComparer.Ordinal);
            found.AddRange((await all).Where(r => read.Add(r.Id)));
            for (var i = 0; i < used.Count; i++) frequency[used[i]] = (await counts[i]).FirstOrDefault();
        }
        Log(nameof(FindLexicalMatchesAsync), userId, meter);
        var ids = new List<string>(found.Count);
        var lengths = new List<int>(found.Count);
        var postings = used.ToDictionary(t => t, _ => (Documents: new List<int>(), Frequencies: new List<int>()), StringComparer.Ordinal);
        foreach (var row in found)
        {
            var counts = LexicalTerms.Counts(row.Content);
            var at = ids.Count;
            ids.Add(DocumentIds.Unescape(row.Id[ArchiveDocument.Prefix.Length..]));
            lengths.Add(counts.Length);
            foreach (var (term, list) in postings)
                if (counts.Terms.TryGetValue(term, out var tf))
                {
                    list.Documents.Add(at);
                    list.Frequencies.Add(tf);
                }
        }
        var documents = Math.Max((await count).FirstOrDefault(), ids.Count);
        // Items written before termCount was kept have none: their average is taken from the matches.
        var averageLength = (await average).FirstOrDefault() ?? (lengths.Count == 0 ? 0 : lengths.Average());
        return new(documents, averageLength, ids, [.. lengths],
            [.. postings.Where(p => p.Value.Documents.Count > 0).Select(p => new TermPostings(
                p.Key, Math.Max(frequency.GetValueOrDefault(p.Key), p.Value.Documents.Count), [.. p.Value.Documents], [.. p.Value.Frequencies]))],
            complete);
    }

    /// <summary>
    /// The items the engine chose, read by id with their similarity to the vector (over those few,
    /// by brute force), and the nearest by the container's vector index, in parallel. A query vector
    /// of other dimensions than the container's policy (another embedding model) finds no vector
    /// candidates. The engine ranks them rather than the service's <c>RANK RRF</c>, whose
    /// <c>FullTextScore</c> half could not read Chinese.
    /// </summary>
    public async Task<IReadOnlyList<ArchiveCandidate>> ReadArchiveCandidatesAsync(
        string userId, IReadOnlyList<string> ids, ReadOnlyMemory<float>? vector, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var query = vector is { Length: > 0 } v && v.Length == _options.EmbeddingDimensions ? v.ToArray() : null;
        if (ids.Count == 0 && (query is null || limit <= 0)) return [];
        var meter = RequestMeter.Start();
        var chosen = ids.Count > 0
            ? QueryAsync<ArchiveDocument>(userId, CosmosQueries.ArchiveByIdsQuery(userId, [.. ids.Select(ArchiveDocument.DocumentId)], query), meter, cancellationToken)
            : Task.FromResult(new List<ArchiveDocument>());
        var nearest = query is not null && limit > 0
            ? QueryAsync<ArchiveDocument>(userId, CosmosQueries.ArchiveVectorQuery(userId, query, limit), meter, cancellationToken)
            : Task.FromResult(new List<ArchiveDocument>());
        await Task.WhenAll(chosen, nearest);
        Log(nameof(ReadArchiveCandidatesAsync), userId, meter);

        var candidates = new List<ArchiveCandidate>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var row in (await chosen).Concat((await nearest).Where(r => r.Similarity is not null).Take(limit)))
            if (seen.Add(row.Id)) candidates.Add(new(row.ToItem(), query is null ? null : row.Similarity));
        return candidates;
    }

    /// <summary>A lexical match as <see cref="CosmosQueries.ArchiveLexical"/> reads it.</summary>
    private sealed record LexicalRow([property: System.Text.Json.Serialization.JsonPropertyName("id")] string Id, [property: System.Text.Json.Serialization.JsonPropertyName("content")] string Content);

    /// <summary>One query for the page of ids, in the user's partition.</summary>
    public async Task<IReadOnlyDictionary<string, ReadOnlyMemory<float>>> GetArchiveVectorsAsync(
        string userId, IReadOnlyList<string> ids, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (ids.Count == 0) return new Dictionary<string, ReadOnlyMemory<float>>();
        var meter = RequestMeter.Start();
        var rows = await QueryAsync<ArchiveVectorRow>(userId, CosmosQueries.ArchiveVectorsQuery(userId, [.. ids.Select(ArchiveDocument.DocumentId)]), meter, cancellationToken);
        Log(nameof(GetArchiveVectorsAsync), userId, meter);
        return rows.Where(r => r.Embedding is { Length: > 0 })
            .ToDictionary(r => DocumentIds.Unescape(r.Id[ArchiveDocument.Prefix.Length..]), r => (ReadOnlyMemory<float>)r.Embedding!, StringComparer.Ordinal);
    }

    public async Task<Page<ConversationMessage>> ListMessagesAsync(
        string userId, string? sessionId, int limit, string? continuationToken, CancellationToken cancellationToken = default)
    {
        var meter = RequestMeter.Start();
        var (rows, token) = await PageAsync<MessageDocument>(userId, CosmosQueries.ListMessagesQuery(userId, sessionId), limit, continuationToken, meter, cancellationToken);
        Log(nameof(ListMessagesAsync), userId, meter);
        return new([.. rows.Select(r => r.ToMessage())], token);
    }

    /// <summary>The newest messages holding any of the terms (through <c>terms</c>, as for the archive).</summary>
    public async Task<IReadOnlyList<ConversationMessage>> SearchMessagesAsync(
        string userId, IReadOnlyList<string> terms, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(terms);
        if (terms.Count == 0 || limit <= 0) return [];
        var meter = RequestMeter.Start();
        var rows = await QueryAsync<MessageDocument>(userId, CosmosQueries.SearchMessagesQuery(userId, terms, limit), meter, cancellationToken);
        Log(nameof(SearchMessagesAsync), userId, meter);
        return [.. rows.Select(r => r.ToMessage())];
    }

    public async Task<SessionState?> GetSessionAsync(string userId, string sessionId, CancellationToken cancellationToken = default)
    {
        var meter = RequestMeter.Start();
        var document = await ReadAsync<SessionDocument>(userId, SessionDocument.DocumentId(sessionId), meter, cancellationToken);
        Log(nameof(GetSessionAsync), userId, meter);
        return document?.ToSession();
    }

    /// <summary>
    /// Erases the user's partition: reads its document ids and deletes them in transactional batches
    /// of 100, until a read finds none (so documents written meanwhile go too). Not
    /// <c>DeleteAllItemsByPartitionKeyStreamAsync</c>: that needs an account capability that is not on
    /// by default nor in the emulator, and deletes in the background, so the user's documents could
    /// still be read right after the API said they were gone.
    /// </summary>
    public async Task DeleteUserAsync(string userId, CancellationToken cancellationToken = default)
    {
        var meter = RequestMeter.Start();
        var deleted = 0;
        try
        {
            for (var round = 0; round < MaxEraseRounds; round++)
            {
                var ids = await QueryAsync<string>(userId, CosmosQueries.UserDocumentIdsQuery(userId), meter, cancellationToken);
                if (ids.Count == 0) return;
                foreach (var chunk in ids.Chunk(MaxBatchOperations))
                    await ExecuteBatchAsync(userId, [.. chunk.Select(CosmosWrite.Delete)], meter, cancellationToken);
                deleted += ids.Count;
            }
            throw new InvalidOperationException($"User '{userId}' kept getting new documents while being erased; run the erase again.");
        }
        finally
        {
            LogErase(userId, deleted, meter.Charge, meter.Requests, meter.ElapsedMs);
        }
    }

    /// <summary>
    /// Reads the archive items due by <paramref name="now"/> across all partitions, a page at a time
    /// through continuation tokens, and deletes each with <c>If-Match</c> on the <c>_etag</c> it was
    /// read with: one accessed meanwhile (its forgetAt moved) is left alone, one already gone is
    /// passed over. Stops when nothing is left or the budget is spent; what it deleted stays deleted,
    /// and the next run picks up the rest.
    /// </summary>
    /// <summary>
    /// One <see cref="CosmosQueries.NextUser"/> step per user listed, plus one to learn whether there
    /// are more: an index skip-scan, so a page of 20 costs 21 small queries however many documents
    /// those users hold (docs/cosmos.md). Only the ids: counts would read each user's partition.
    /// </summary>
    public async Task<Page<UserSummary>> ListUsersAsync(string prefix, int limit, string? continuationToken, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        var meter = RequestMeter.Start();
        var after = UserListing.After(continuationToken);
        var container = await ContainerAsync(cancellationToken);
        var users = new List<UserSummary>();
        var more = false;
        while (true)
        {
            string? next = null;
            using (var iterator = container.GetItemQueryIterator<string>(CosmosQueries.NextUserQuery(prefix, after), requestOptions: QueryOptions(null, 1)))
            {
                while (next is null && iterator.HasMoreResults)
                {
                    var page = await iterator.ReadNextAsync(cancellationToken);
                    meter.Add(page.RequestCharge);
                    next = page.FirstOrDefault();
                }
            }
            if (next is null) break;
            if (users.Count == limit)
            {
                more = true;
                break;
            }
            users.Add(new(next));
            after = next;
        }
        LogUsersListed(users.Count, meter.Charge, meter.Requests, meter.ElapsedMs);
        return new(users, more ? UserListing.Token(users[^1].UserId) : null);
    }

    public async Task<SweepResult> SweepAsync(DateTimeOffset now, TimeSpan budget, CancellationToken cancellationToken = default)
    {
        var meter = RequestMeter.Start();
        var clock = Stopwatch.StartNew();
        var container = await ContainerAsync(cancellationToken);
        var scanned = 0;
        var forgotten = 0;
        var users = new HashSet<string>(StringComparer.Ordinal);
        using (var iterator = container.GetItemQueryIterator<DueDocument>(CosmosQueries.DueArchiveItemsQuery(now),
                   requestOptions: QueryOptions(null, SweepPageSize)))
        {
            while (iterator.HasMoreResults && clock.Elapsed < budget)
            {
                var page = await iterator.ReadNextAsync(cancellationToken);
                meter.Add(page.RequestCharge);
                var due = page.ToList();
                scanned += due.Count;
                var done = new List<string>();
                await Parallel.ForEachAsync(due, new ParallelOptions { MaxDegreeOfParallelism = SweepParallelism, CancellationToken = cancellationToken },
                    async (item, ct) =>
                    {
                        using var response = await container.DeleteItemStreamAsync(item.Id, new PartitionKey(item.UserId),
                            new ItemRequestOptions { IfMatchEtag = item.ETag }, ct);
                        meter.Add(response.Headers.RequestCharge);
                        if (response.IsSuccessStatusCode) lock (done) done.Add(item.UserId);
                        else if (response.StatusCode is not (HttpStatusCode.NotFound or HttpStatusCode.PreconditionFailed))
                            response.EnsureSuccessStatusCode();
                    });
                forgotten += done.Count;
                users.UnionWith(done);
            }
        }
        LogSweepCharge(meter.Charge, meter.Requests, clock.ElapsedMilliseconds);
        return new(scanned, forgotten, users.Count, clock.ElapsedMilliseconds);
    }

    /// <summary>
    /// Through the range index on <c>/pendingVector</c>, the flag an archive document carries while it
    /// has no vector (the <c>/embedding</c> path is kept out of the range index, so no query could ask
    /// for its absence cheaply): in one partition for a user, else across partitions as the sweep reads.
    /// </summary>
    public async Task<IReadOnlyList<PendingVector>> FindArchiveItemsWithoutVectorAsync(string? userId, DateTimeOffset now, int limit, CancellationToken cancellationToken = default)
    {
        var pending = new List<PendingVector>();
        if (limit <= 0) return pending;
        var meter = RequestMeter.Start();
        var container = await ContainerAsync(cancellationToken);
        using (var iterator = container.GetItemQueryIterator<PendingVectorDocument>(CosmosQueries.ArchiveWithoutVectorQuery(userId, now),
                   requestOptions: QueryOptions(userId, limit)))
        {
            while (iterator.HasMoreResults && pending.Count < limit)
            {
                var page = await iterator.ReadNextAsync(cancellationToken);
                meter.Add(page.RequestCharge);
                pending.AddRange(page.Take(limit - pending.Count).Select(d =>
                    new PendingVector(d.UserId, DocumentIds.Unescape(d.Id[ArchiveDocument.Prefix.Length..]), d.Content, d.ETag)));
            }
        }
        Log(nameof(FindArchiveItemsWithoutVectorAsync), userId ?? "*", meter);
        return pending;
    }

    /// <summary>
    /// A patch with <c>If-Match</c> on the <c>_etag</c> the item was found with, under a filter that it
    /// is not forgotten: sets <c>/embedding</c> and removes the flag, nothing else, so it cannot create a
    /// deleted document again nor undo a change made since (412 and 404 answer false). A vector of other
    /// dimensions than the container's policy cannot be stored: the flag goes, and the item stays lexical.
    /// </summary>
    public async Task<bool> SetArchiveVectorAsync(PendingVector item, ReadOnlyMemory<float> vector, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(item);
        var meter = RequestMeter.Start();
        var container = await ContainerAsync(cancellationToken);
        var fits = vector.Length == _options.EmbeddingDimensions;
        PatchOperation[] patch = fits
            ? [PatchOperation.Set(MemoryContainer.EmbeddingPath, vector.ToArray()), PatchOperation.Remove(ArchiveDocument.PendingVectorPath)]
            : [PatchOperation.Remove(ArchiveDocument.PendingVectorPath)];
        using var response = await container.PatchItemStreamAsync(ArchiveDocument.DocumentId(item.Id), new PartitionKey(item.UserId), patch,
            new PatchItemRequestOptions
            {
                IfMatchEtag = item.Version,
                FilterPredicate = $"FROM c WHERE NOT IS_DEFINED(c.forgetAt) OR IS_NULL(c.forgetAt) OR c.forgetAt > '{CosmosTime.Format(now)}'",
                EnableContentResponseOnWrite = false,
            }, cancellationToken);
        meter.Add(response.Headers.RequestCharge);
        Log(nameof(SetArchiveVectorAsync), item.UserId, meter);
        if (response.StatusCode is HttpStatusCode.PreconditionFailed or HttpStatusCode.NotFound) return false;
        response.EnsureSuccessStatusCode();
        return fits;
    }

    private async Task<T?> ReadAsync<T>(string userId, string documentId, RequestMeter meter, CancellationToken cancellationToken) where T : class
    {
        var container = await ContainerAsync(cancellationToken);
        using var response = await container.ReadItemStreamAsync(documentId, new PartitionKey(userId), cancellationToken: cancellationToken);
        meter.Add(response.Headers.RequestCharge);
        if (response.StatusCode == HttpStatusCode.NotFound) return null;
        response.EnsureSuccessStatusCode();
        return await JsonSerializer.DeserializeAsync<T>(response.Content, CosmosJson.Options, cancellationToken);
    }

    /// <summary>All rows of a query in the user's partition.</summary>
    private async Task<List<T>> QueryAsync<T>(string userId, QueryDefinition query, RequestMeter meter, CancellationToken cancellationToken)
    {
        var container = await ContainerAsync(cancellationToken);
        var rows = new List<T>();
        using var iterator = container.GetItemQueryIterator<T>(query, requestOptions: QueryOptions(userId));
        while (iterator.HasMoreResults)
        {
            var page = await iterator.ReadNextAsync(cancellationToken);
            meter.Add(page.RequestCharge);
            rows.AddRange(page);
        }
        return rows;
    }

    /// <summary>
    /// One page of up to <paramref name="limit"/> rows, resuming at the SDK's continuation token
    /// (carried base64url-encoded, so that it travels in a query string). The page is filled from as
    /// many service pages as it takes; the token is null once the service says there is no more.
    /// </summary>
    private async Task<(List<T> Rows, string? Token)> PageAsync<T>(
        string userId, QueryDefinition query, int limit, string? continuationToken, RequestMeter meter, CancellationToken cancellationToken)
    {
        var token = DecodeToken(continuationToken);
        var rows = new List<T>();
        if (limit <= 0) return (rows, continuationToken);
        var container = await ContainerAsync(cancellationToken);
        do
        {
            using var iterator = container.GetItemQueryIterator<T>(query, token, QueryOptions(userId, limit - rows.Count));
            if (!iterator.HasMoreResults)
            {
                token = null;
                break;
            }
            FeedResponse<T> page;
            try
            {
                page = await iterator.ReadNextAsync(cancellationToken);
            }
            catch (CosmosException e) when (e.StatusCode == HttpStatusCode.BadRequest && token is not null)
            {
                throw MemoryValidationException.ForeignContinuationToken();
            }
            meter.Add(page.RequestCharge);
            rows.AddRange(page);
            token = page.ContinuationToken;
        }
        while (token is not null && rows.Count < limit);
        return (rows, token is null ? null : EncodeToken(token));
    }

    internal static string EncodeToken(string token) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes(token)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    internal static string? DecodeToken(string? token)
    {
        if (token is null) return null;
        try
        {
            var base64 = token.Replace('-', '+').Replace('_', '/');
            base64 = base64.PadRight(base64.Length + (4 - base64.Length % 4) % 4, '=');
            return Encoding.UTF8.GetString(Convert.FromBase64String(base64));
        }
        catch (FormatException)
        {
            throw MemoryValidationException.ForeignContinuationToken();
        }
    }

    /// <summary>
    /// The container, created with its policies (<see cref="MemoryContainer.Properties"/>) on first use
    /// when <see cref="CosmosStoreOptions.CreateIfNotExists"/> is on; a failed creation is tried again
    /// by the next call.
    /// </summary>
    internal Task<Container> ContainerAsync(CancellationToken cancellationToken = default)
    {
        if (!_options.CreateIfNotExists) return Task.FromResult(_client.GetContainer(_options.Database, _options.Container));
        lock (_readyLock)
        {
            if (_ready is null || _ready.IsFaulted || _ready.IsCanceled) _ready = CreateContainerAsync();
            return _ready.WaitAsync(cancellationToken);
        }
    }

    private async Task<Container> CreateContainerAsync()
    {
        var meter = RequestMeter.Start();
        var database = await _client.CreateDatabaseIfNotExistsAsync(_options.Database);
        meter.Add(database.RequestCharge);
        var container = await database.Database.CreateContainerIfNotExistsAsync(
            MemoryContainer.Properties(_options.Container, _options.EmbeddingDimensions));
        meter.Add(container.RequestCharge);
        Log("CreateIfNotExists", _options.Container, meter);
        return container.Container;
    }

    private void Log(string operation, string userId, RequestMeter meter) =>
        LogCharge(operation, userId, meter.Charge, meter.Requests, meter.ElapsedMs);

    private void LogCommit(string userId, int writes, int batches, RequestMeter meter) =>
        LogCommitCharge(userId, writes, batches, meter.Charge, meter.Requests, meter.ElapsedMs);

    [LoggerMessage(EventId = 5120, Level = LogLevel.Debug,
        Message = "Cosmos user listing: {Users} users, {RequestCharge} RU in {Requests} requests, {ElapsedMs} ms")]
    private partial void LogUsersListed(int users, double requestCharge, int requests, long elapsedMs);

    [LoggerMessage(EventId = 5101, Level = LogLevel.Debug,
        Message = "Cosmos {Operation} for {UserId}: {RequestCharge} RU in {Requests} requests, {ElapsedMs} ms")]
    private partial void LogCharge(string operation, string userId, double requestCharge, int requests, long elapsedMs);

    [LoggerMessage(EventId = 5102, Level = LogLevel.Information,
        Message = "Cosmos commit for {UserId}: {Writes} writes in {Batches} batches, {RequestCharge} RU in {Requests} requests, {ElapsedMs} ms")]
    private partial void LogCommitCharge(string userId, int writes, int batches, double requestCharge, int requests, long elapsedMs);

    [LoggerMessage(EventId = 5103, Level = LogLevel.Debug,
        Message = "Cosmos commit for {UserId}: skipped {Write} ({StatusCode}), its target exists already or is gone")]
    private partial void LogSkipped(string userId, string write, int statusCode);

    [LoggerMessage(EventId = 5104, Level = LogLevel.Information,
        Message = "Cosmos erase of {UserId}: {Deleted} documents, {RequestCharge} RU in {Requests} requests, {ElapsedMs} ms")]
    private partial void LogErase(string userId, int deleted, double requestCharge, int requests, long elapsedMs);

    /// <summary>What a sweep cost, beside the engine's line of what it did (as each call's charge, at Debug).</summary>
    [LoggerMessage(EventId = 5105, Level = LogLevel.Debug,
        Message = "Cosmos decay sweep: {RequestCharge} RU in {Requests} requests, {ElapsedMs} ms")]
    private partial void LogSweepCharge(double requestCharge, int requests, long elapsedMs);
}

/// <summary>The request charges of one store call, summed over every request it made (thread-safe: searches query in parallel).</summary>
internal sealed class RequestMeter
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Lock _lock = new();
    private double _charge;
    private int _requests;

    public static RequestMeter Start() => new();

    public double Charge
    {
        get { lock (_lock) return Math.Round(_charge, 2); }
    }

    public int Requests
    {
        get { lock (_lock) return _requests; }
    }

    public long ElapsedMs => _clock.ElapsedMilliseconds;

    public void Add(double charge)
    {
        lock (_lock)
        {
            _charge += charge;
            _requests++;
        }
    }
}
