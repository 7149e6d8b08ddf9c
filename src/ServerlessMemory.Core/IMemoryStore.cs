namespace ServerlessMemory.Core;

/// <summary>
/// Where memory lives: the embedded SQLite store or Cosmos DB. Every call is scoped to one user; a
/// store never reads or writes across users. Writes that belong together go through
/// <see cref="CommitAsync"/>, which applies all of a change set or none of it. No member has a
/// default body: every store says what it does, and a wrapper derives from
/// <see cref="DelegatingMemoryStore"/>, so it cannot drop a member it was written before.
/// </summary>
public interface IMemoryStore
{
    /// <summary><c>sqlite</c> or <c>cosmos</c>, as the health route reports it.</summary>
    string Name { get; }

    /// <summary>The user's core memory, or null when it was never written.</summary>
    Task<CoreMemory?> GetCoreAsync(string userId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Applies the change set atomically. Archive adds whose id exists already are skipped, and so are
    /// renewals whose stored item is no longer due (see <see cref="ArchiveRenewal"/>); the result names
    /// them. When it carries core memory, its ETag must match the stored one (null: none stored yet),
    /// else <see cref="MemoryConflictException"/> and nothing is written. The result carries the new
    /// core ETag when core was written.
    /// </summary>
    Task<CommitResult> CommitAsync(string userId, MemoryChangeSet changes, CancellationToken cancellationToken = default);

    Task<ArchiveItem?> GetArchiveItemAsync(string userId, string id, CancellationToken cancellationToken = default);

    /// <summary>
    /// Deletes one archive item; false when it was not there. Of concurrent deletes of one item
    /// exactly one answers true (a read-then-delete cannot tell which won).
    /// </summary>
    Task<bool> DeleteArchiveItemAsync(string userId, string id, CancellationToken cancellationToken = default);

    /// <summary>Newest first.</summary>
    Task<Page<ArchiveItem>> ListArchiveAsync(string userId, int limit, string? continuationToken, CancellationToken cancellationToken = default);

    /// <summary>
    /// The candidate contract (docs/design.md, "Search"): for the query's lexical terms, every memory
    /// of the user holding at least one of them, with each term's count in it and its length in
    /// terms, and the user's memory count and average length (<see cref="LexicalMatches"/>). The
    /// store scores nothing: the engine computes relevance from these (<see cref="ArchiveRanking"/>),
    /// the same for every store. A store that can read only part of the matches says so
    /// (<see cref="LexicalMatches.Complete"/>) and gives the newest.
    /// </summary>
    Task<LexicalMatches> FindLexicalMatchesAsync(string userId, IReadOnlyList<string> terms, CancellationToken cancellationToken = default);

    /// <summary>
    /// The stored items among <paramref name="ids"/> (an id no longer stored is left out), and up to
    /// <paramref name="limit"/> more nearest by cosine similarity to <paramref name="vector"/> when one
    /// is given; with a vector, each item that has one of the same dimensions carries its similarity.
    /// No order: the engine ranks them (<see cref="ArchiveCandidateSearch"/>).
    /// </summary>
    Task<IReadOnlyList<ArchiveCandidate>> ReadArchiveCandidatesAsync(
        string userId, IReadOnlyList<string> ids, ReadOnlyMemory<float>? vector, int limit, CancellationToken cancellationToken = default);

    /// <summary>
    /// The stored vectors of these archive items of the user, by id; an item stored without one, or
    /// not stored at all, is left out. The export reads them a page of items at a time.
    /// </summary>
    Task<IReadOnlyDictionary<string, ReadOnlyMemory<float>>> GetArchiveVectorsAsync(string userId, IReadOnlyList<string> ids, CancellationToken cancellationToken = default);

    /// <summary>Newest first; <paramref name="sessionId"/> null means every session.</summary>
    Task<Page<ConversationMessage>> ListMessagesAsync(
        string userId, string? sessionId, int limit, string? continuationToken, CancellationToken cancellationToken = default);

    /// <summary>Messages holding any of the terms, newest first.</summary>
    Task<IReadOnlyList<ConversationMessage>> SearchMessagesAsync(
        string userId, IReadOnlyList<string> terms, int limit, CancellationToken cancellationToken = default);

    Task<SessionState?> GetSessionAsync(string userId, string sessionId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Users the store holds anything of (core, archive, messages or a session), in ordinal order of
    /// id: those whose id starts with <paramref name="prefix"/> (empty: every user), after the last of
    /// the page <paramref name="continuationToken"/> came from. Across users, for operators (the admin
    /// route); a store fills <see cref="UserSummary"/>'s optional parts only where they are cheap.
    /// </summary>
    Task<Page<UserSummary>> ListUsersAsync(string prefix, int limit, string? continuationToken, CancellationToken cancellationToken = default);

    /// <summary>Removes every document of the user.</summary>
    Task DeleteUserAsync(string userId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Deletes archive items whose <c>forgetAt</c> is at or before <paramref name="now"/>, reading only
    /// those, in batches until none are left or the budget is spent. Safe to stop and run again.
    /// </summary>
    Task<SweepResult> SweepAsync(DateTimeOffset now, TimeSpan budget, CancellationToken cancellationToken = default);

    /// <summary>
    /// Up to <paramref name="limit"/> archive items stored without their vector (during an embedding
    /// outage) and not forgotten by <paramref name="now"/>: of one user, or of every user when
    /// <paramref name="userId"/> is null. Read through an index of such items only, so the cost follows
    /// what is missing, not what is stored.
    /// </summary>
    Task<IReadOnlyList<PendingVector>> FindArchiveItemsWithoutVectorAsync(string? userId, DateTimeOffset now, int limit, CancellationToken cancellationToken = default);

    /// <summary>
    /// Stores the vector of an item <see cref="FindArchiveItemsWithoutVectorAsync"/> found, and
    /// nothing else of it: only if it is still stored without one, unchanged since it was found (where
    /// the store can tell) and not forgotten by <paramref name="now"/>. False when it was not written
    /// (deleted, renewed, changed or forgotten meanwhile: a later run finds it again if it still lacks one).
    /// </summary>
    Task<bool> SetArchiveVectorAsync(PendingVector item, ReadOnlyMemory<float> vector, DateTimeOffset now, CancellationToken cancellationToken = default);
}
