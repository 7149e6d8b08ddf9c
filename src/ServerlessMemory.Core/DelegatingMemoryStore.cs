namespace ServerlessMemory.Core;

/// <summary>
/// A store that forwards every call to another: the base of a wrapper round a store, as
/// Microsoft.Extensions.AI's <c>DelegatingChatClient</c> is round a chat client. A wrapper overrides
/// only the members it changes; since <see cref="IMemoryStore"/> has no default bodies, a member
/// added to it later is forwarded here or the build fails, never silently answered by a fallback.
/// </summary>
public abstract class DelegatingMemoryStore : IMemoryStore
{
    protected DelegatingMemoryStore(IMemoryStore innerStore)
    {
        ArgumentNullException.ThrowIfNull(innerStore);
        InnerStore = innerStore;
    }

    /// <summary>The store every call goes to.</summary>
    protected IMemoryStore InnerStore { get; }

    public virtual string Name => InnerStore.Name;

    public virtual Task<CoreMemory?> GetCoreAsync(string userId, CancellationToken cancellationToken = default) =>
        InnerStore.GetCoreAsync(userId, cancellationToken);

    public virtual Task<CommitResult> CommitAsync(string userId, MemoryChangeSet changes, CancellationToken cancellationToken = default) =>
        InnerStore.CommitAsync(userId, changes, cancellationToken);

    public virtual Task<ArchiveItem?> GetArchiveItemAsync(string userId, string id, CancellationToken cancellationToken = default) =>
        InnerStore.GetArchiveItemAsync(userId, id, cancellationToken);

    public virtual Task<bool> DeleteArchiveItemAsync(string userId, string id, CancellationToken cancellationToken = default) =>
        InnerStore.DeleteArchiveItemAsync(userId, id, cancellationToken);

    public virtual Task<Page<ArchiveItem>> ListArchiveAsync(string userId, int limit, string? continuationToken, CancellationToken cancellationToken = default) =>
        InnerStore.ListArchiveAsync(userId, limit, continuationToken, cancellationToken);

    public virtual Task<LexicalMatches> FindLexicalMatchesAsync(string userId, IReadOnlyList<string> terms, CancellationToken cancellationToken = default) =>
        InnerStore.FindLexicalMatchesAsync(userId, terms, cancellationToken);

    public virtual Task<IReadOnlyList<ArchiveCandidate>> ReadArchiveCandidatesAsync(
        string userId, IReadOnlyList<string> ids, ReadOnlyMemory<float>? vector, int limit, CancellationToken cancellationToken = default) =>
        InnerStore.ReadArchiveCandidatesAsync(userId, ids, vector, limit, cancellationToken);

    public virtual Task<IReadOnlyDictionary<string, ReadOnlyMemory<float>>> GetArchiveVectorsAsync(
        string userId, IReadOnlyList<string> ids, CancellationToken cancellationToken = default) =>
        InnerStore.GetArchiveVectorsAsync(userId, ids, cancellationToken);

    public virtual Task<Page<ConversationMessage>> ListMessagesAsync(
        string userId, string? sessionId, int limit, string? continuationToken, CancellationToken cancellationToken = default) =>
        InnerStore.ListMessagesAsync(userId, sessionId, limit, continuationToken, cancellationToken);

    public virtual Task<IReadOnlyList<ConversationMessage>> SearchMessagesAsync(
        string userId, IReadOnlyList<string> terms, int limit, CancellationToken cancellationToken = default) =>
        InnerStore.SearchMessagesAsync(userId, terms, limit, cancellationToken);

    public virtual Task<SessionState?> GetSessionAsync(string userId, string sessionId, CancellationToken cancellationToken = default) =>
        InnerStore.GetSessionAsync(userId, sessionId, cancellationToken);

    public virtual Task<Page<UserSummary>> ListUsersAsync(string prefix, int limit, string? continuationToken, CancellationToken cancellationToken = default) =>
        InnerStore.ListUsersAsync(prefix, limit, continuationToken, cancellationToken);

    public virtual Task DeleteUserAsync(string userId, CancellationToken cancellationToken = default) =>
        InnerStore.DeleteUserAsync(userId, cancellationToken);

    public virtual Task<SweepResult> SweepAsync(DateTimeOffset now, TimeSpan budget, CancellationToken cancellationToken = default) =>
        InnerStore.SweepAsync(now, budget, cancellationToken);

    public virtual Task<IReadOnlyList<PendingVector>> FindArchiveItemsWithoutVectorAsync(
        string? userId, DateTimeOffset now, int limit, CancellationToken cancellationToken = default) =>
        InnerStore.FindArchiveItemsWithoutVectorAsync(userId, now, limit, cancellationToken);

    public virtual Task<bool> SetArchiveVectorAsync(PendingVector item, ReadOnlyMemory<float> vector, DateTimeOffset now, CancellationToken cancellationToken = default) =>
        InnerStore.SetArchiveVectorAsync(item, vector, now, cancellationToken);
}
