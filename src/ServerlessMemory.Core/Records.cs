namespace ServerlessMemory.Core;

/// <summary>One memory in the archive. Its id is a hash of its normalised content, so the same memory is never stored twice.</summary>
public sealed record ArchiveItem
{
    public required string Id { get; init; }
    public required string Content { get; init; }
    public MemoryType Type { get; init; } = MemoryType.Fact;
    public double Importance { get; init; } = 0.5;
    /// <summary>When it happened or was said: kept and shown, the memory's "when". An import may date it back.</summary>
    public required DateTimeOffset CreatedAt { get; init; }
    /// <summary>
    /// When it entered memory: the clock decay runs on. A memory dated back (<see cref="CreatedAt"/>
    /// a year ago) that is added now enters now, and fades as one said today; an import between
    /// stores restores it, so moving a user neither resets nor hastens forgetting.
    /// </summary>
    public required DateTimeOffset EnteredAt { get; init; }
    /// <summary>The last time a search returned it; <see cref="EnteredAt"/> until then.</summary>
    public required DateTimeOffset LastAccessedAt { get; init; }
    public int AccessCount { get; init; }
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>();
    /// <summary>The content's embedding, when an embedding model is configured.</summary>
    public ReadOnlyMemory<float>? Embedding { get; init; }
    /// <summary>When its strength crosses the forgetting threshold; null means never.</summary>
    public DateTimeOffset? ForgetAt { get; init; }
    /// <summary>
    /// When it stopped being true, because a later memory contradicted it. A superseded memory keeps
    /// its content and stays readable, but leaves recall and default search (history search finds it).
    /// </summary>
    public DateTimeOffset? SupersededAt { get; init; }
    /// <summary>The id of the memory that replaced it; null when it was retracted without a replacement.</summary>
    public string? SupersededBy { get; init; }

    /// <summary>
    /// Every period it was true that has ended, oldest first, each from its <see cref="CreatedAt"/> then
    /// to when it was superseded: while it is superseded the last is the current supersession. A memory
    /// stated again after it was superseded (a restatement) is current again from then (its new
    /// <see cref="CreatedAt"/>; it enters memory again, so <see cref="EnteredAt"/> and decay start anew),
    /// and keeps these. Null when it never stopped being true.
    /// </summary>
    public IReadOnlyList<ArchiveInterval>? History { get; init; }

    /// <summary><see cref="History"/>, or for a memory superseded before history was kept, its one known period.</summary>
    public IReadOnlyList<ArchiveInterval> Intervals =>
        History is { Count: > 0 } history ? history : SupersededAt is { } at ? [new(CreatedAt, at, SupersededBy)] : [];
}

/// <summary>A period when a memory was true, and the memory that ended it (null: retracted without a replacement).</summary>
public sealed record ArchiveInterval(DateTimeOffset From, DateTimeOffset To, string? SupersededBy);

/// <summary>
/// Marks a stored memory superseded (only one that is not already). With <see cref="History"/> the
/// store writes it too, and only over the statement the engine read (<see cref="Since"/>, its
/// <c>enteredAt</c>), so a restatement, renewal or another supersession meanwhile wins and this one is skipped.
/// </summary>
public sealed record ArchiveSupersession(string Id, DateTimeOffset At, string? By)
{
    /// <summary>The item's intervals with the one this supersession ends; null: the store keeps what it has.</summary>
    public IReadOnlyList<ArchiveInterval>? History { get; init; }

    /// <summary>The <c>enteredAt</c> of the statement read; null: any.</summary>
    public DateTimeOffset? Since { get; init; }

    /// <summary>
    /// Written only while <see cref="By"/> is a current memory: set for a supersession decided now, so
    /// that of two opposite ones made at once (A by B, B by A) only the first lands and one stays current;
    /// not for the history an import restores, where the replacement may be history itself.
    /// </summary>
    public bool RequireCurrentReplacement { get; init; }
}

/// <summary>
/// A superseded memory stated again: current again, true from <see cref="CreatedAt"/> (when it was
/// said again), entered memory again at <see cref="EnteredAt"/> (its last access too, and
/// <see cref="ForgetAt"/> from then), its <see cref="History"/> kept. The store writes it only while
/// the item is still superseded at <see cref="SupersededAt"/>, else skips it (and reports it skipped).
/// </summary>
public sealed record ArchiveRestatement(string Id, DateTimeOffset CreatedAt, DateTimeOffset EnteredAt, DateTimeOffset SupersededAt, DateTimeOffset? ForgetAt,
    IReadOnlyList<ArchiveInterval> History);

/// <summary>Why an item ranked where it did.</summary>
public sealed record Score(double Total, double Relevance, double Decay, double AccessBonus);

public sealed record ScoredItem(ArchiveItem Item, Score Score);

/// <summary>A message of the conversation (recall memory).</summary>
public sealed record ConversationMessage(
    string Id, string SessionId, string TurnId, string Role, string Content, DateTimeOffset CreatedAt);

/// <summary>A session's running summary of the messages that left the prompt window.</summary>
public sealed record SessionState(string SessionId, string Summary, DateTimeOffset? SummarizedThrough, string? ETag);

public sealed record Page<T>(IReadOnlyList<T> Items, string? ContinuationToken);

/// <summary>
/// A user as the admin listing shows them: the id, and where the store can say it cheaply, how many
/// archive memories they hold and when their newest memory or message was written (null: not said).
/// </summary>
public sealed record UserSummary(string UserId, int? ArchiveItems = null, DateTimeOffset? LastActivity = null);

/// <summary>The user listing's continuation token, the same for every store: the last id of the page, encoded.</summary>
public static class UserListing
{
    public static string Token(string lastUserId) =>
        Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(lastUserId)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>The id a page starts after; "" (before every id) without a token.</summary>
    public static string After(string? token)
    {
        if (token is null) return "";
        try
        {
            var base64 = token.Replace('-', '+').Replace('_', '/');
            return System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(base64.PadRight(base64.Length + (4 - base64.Length % 4) % 4, '=')));
        }
        catch (FormatException)
        {
            throw new MemoryValidationException("continuationToken", "The continuation token is not one this API gave out.");
        }
    }
}

public sealed record SweepResult(int Scanned, int Forgotten, int Users, long DurationMs);

/// <summary>
/// An item found for a query, before the engine ranks it: its cosine similarity to the query's
/// vector, and its BM25 divided by the query's ideal (<see cref="ArchiveRanking.Bm25"/>) when it
/// holds a query term.
/// </summary>
public sealed record ArchiveCandidate(ArchiveItem Item, double? VectorSimilarity, double? LexicalScore = null);

/// <summary>Accesses to count: the store adds <paramref name="Count"/> to the count and sets the other two.</summary>
public sealed record ArchiveAccess(string Id, DateTimeOffset At, DateTimeOffset? ForgetAt, int Count = 1);

/// <summary>
/// A memory that takes the place of the stored one of the same id, which is already past its
/// <c>forgetAt</c> (forgotten, though the sweep has not removed it yet). The store writes it only if
/// the stored one is still due by <see cref="DueBy"/>, else skips it; when none is stored it is an add.
/// </summary>
public sealed record ArchiveRenewal(ArchiveItem Item, DateTimeOffset DueBy);

/// <summary>What a commit wrote: the new core ETag, when it wrote core, and the archive adds and renewals it skipped because their id was taken, and restatements it skipped because the item was no longer superseded as read.</summary>
public sealed record CommitResult(string? ETag, IReadOnlyList<string> SkippedArchiveIds)
{
    public static CommitResult None { get; } = new(null, []);
}

/// <summary>Everything one request wrote, committed at once or not at all.</summary>
public sealed record MemoryChangeSet
{
    /// <summary>The new core memory, with the ETag it must replace (null: the user has none yet).</summary>
    public CoreMemory? Core { get; init; }
    public IReadOnlyList<ArchiveItem> ArchiveAdds { get; init; } = [];
    public IReadOnlyList<ArchiveRenewal> ArchiveRenewals { get; init; } = [];
    public IReadOnlyList<ArchiveSupersession> ArchiveSupersessions { get; init; } = [];
    public IReadOnlyList<ArchiveRestatement> ArchiveRestatements { get; init; } = [];
    public IReadOnlyList<string> ArchiveDeletes { get; init; } = [];
    public IReadOnlyList<ArchiveAccess> Accesses { get; init; } = [];
    public IReadOnlyList<ConversationMessage> Messages { get; init; } = [];
    public SessionState? Session { get; init; }
    /// <summary>
    /// All of it in one transaction or none of it: a store that would have to split it (Cosmos DB's
    /// batch limits) throws <see cref="ChangeSetTooLargeException"/> instead and writes nothing.
    /// </summary>
    public bool Atomic { get; init; }

    public bool IsEmpty => Core is null && ArchiveAdds.Count == 0 && ArchiveRenewals.Count == 0 && ArchiveSupersessions.Count == 0 && ArchiveRestatements.Count == 0 && ArchiveDeletes.Count == 0 &&
                           Accesses.Count == 0 && Messages.Count == 0 && Session is null;
}
