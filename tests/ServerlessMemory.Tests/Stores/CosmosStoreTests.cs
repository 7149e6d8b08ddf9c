using System.Reflection;
using Microsoft.Azure.Cosmos;
using ServerlessMemory.Core;
using ServerlessMemory.Cosmos;
using ServerlessMemory.Tests.Cosmos;

namespace ServerlessMemory.Tests.Stores;

/// <summary>
/// The store contract suite through <see cref="CosmosMemoryStore"/> on Cosmos DB: on a real account or
/// emulator when <c>COSMOS_TEST_ENDPOINT</c> names one (and <c>COSMOS_TEST_KEY</c>, the emulator's
/// well-known key when unset), else on the local test server (<see cref="LocalCosmosServer"/>), which
/// <c>.ci/run</c> and the test build install. Each run gets a container of its own, created with the
/// production policy. Only when neither can run is every test reported skipped, with the reason.
/// xunit 2 cannot skip at run time, so each contract test is overridden here with
/// <see cref="CosmosFactAttribute"/>, and <see cref="Every_contract_test_is_overridden_to_skip_when_no_cosmos_can_run"/>
/// fails when a new one is not.
/// </summary>
public sealed class CosmosStoreTests(CosmosContractContainer container) : MemoryStoreContract, IClassFixture<CosmosContractContainer>
{
    protected override IMemoryStore Store => container.Store;

    [CosmosFact] public override Task A_new_user_has_no_core_memory() => base.A_new_user_has_no_core_memory();
    [CosmosFact] public override Task Core_memory_round_trips_and_each_write_changes_its_etag() => base.Core_memory_round_trips_and_each_write_changes_its_etag();
    [CosmosFact] public override Task A_stale_etag_conflicts_and_nothing_of_the_change_set_is_written() => base.A_stale_etag_conflicts_and_nothing_of_the_change_set_is_written();
    [CosmosFact] public override Task Creating_core_memory_twice_conflicts() => base.Creating_core_memory_twice_conflicts();
    [CosmosFact] public override Task Archive_items_round_trip() => base.Archive_items_round_trip();
    [CosmosFact] public override Task Adding_the_same_memory_again_keeps_the_first() => base.Adding_the_same_memory_again_keeps_the_first();
    [CosmosFact] public override Task An_access_increments_the_count_and_moves_forget_at() => base.An_access_increments_the_count_and_moves_forget_at();
    [CosmosFact] public override Task Lexical_candidates_find_a_two_character_chinese_word() => base.Lexical_candidates_find_a_two_character_chinese_word();
    [CosmosFact] public override Task Vector_candidates_come_nearest_first_with_their_similarity() => base.Vector_candidates_come_nearest_first_with_their_similarity();
    [CosmosFact] public override Task Users_never_see_each_others_memories() => base.Users_never_see_each_others_memories();
    [CosmosFact] public override Task The_archive_lists_newest_first_in_pages() => base.The_archive_lists_newest_first_in_pages();
    [CosmosFact] public override Task Messages_list_newest_first_per_session_and_are_searchable() => base.Messages_list_newest_first_per_session_and_are_searchable();
    [CosmosFact] public override Task Session_summaries_are_written_with_optimistic_concurrency() => base.Session_summaries_are_written_with_optimistic_concurrency();
    [CosmosFact] public override Task Deleting_an_archive_item_removes_it_from_search() => base.Deleting_an_archive_item_removes_it_from_search();
    [CosmosFact] public override Task Of_concurrent_deletes_of_one_item_exactly_one_says_it_deleted_it() => base.Of_concurrent_deletes_of_one_item_exactly_one_says_it_deleted_it();
    [CosmosFact] public override Task What_a_search_counts_follows_every_add_delete_and_sweep_that_came_before_it() => base.What_a_search_counts_follows_every_add_delete_and_sweep_that_came_before_it();
    [CosmosFact] public override Task Deleting_a_user_removes_every_document() => base.Deleting_a_user_removes_every_document();
    [CosmosFact] public override Task The_sweep_forgets_what_is_due_and_nothing_else_and_can_run_again() => base.The_sweep_forgets_what_is_due_and_nothing_else_and_can_run_again();
    [CosmosFact] public override Task A_commit_names_the_adds_it_skipped_because_their_id_was_taken() => base.A_commit_names_the_adds_it_skipped_because_their_id_was_taken();
    [CosmosFact] public override Task A_renewal_replaces_a_forgotten_item_once_and_adds_one_that_is_gone() => base.A_renewal_replaces_a_forgotten_item_once_and_adds_one_that_is_gone();
    [CosmosFact] public override Task A_superseded_item_keeps_its_content_and_says_when_and_by_what() => base.A_superseded_item_keeps_its_content_and_says_when_and_by_what();
    [CosmosFact] public override Task An_item_stored_without_a_vector_is_found_by_vector_once_backfilled() => base.An_item_stored_without_a_vector_is_found_by_vector_once_backfilled();
    [CosmosFact] public override Task A_backfilled_vector_never_revives_a_deleted_or_forgotten_item_nor_undoes_a_supersession() => base.A_backfilled_vector_never_revives_a_deleted_or_forgotten_item_nor_undoes_a_supersession();

    [Fact]
    public void Every_contract_test_is_overridden_to_skip_when_no_cosmos_can_run()
    {
        var contract = typeof(MemoryStoreContract).GetMethods().Where(m => m.GetCustomAttribute<FactAttribute>() is not null).Select(m => m.Name);
        var skippable = typeof(CosmosStoreTests).GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly)
            .Where(m => m.GetCustomAttribute<CosmosFactAttribute>(inherit: false) is not null).Select(m => m.Name);

        Assert.Empty(contract.Except(skippable));
    }
}

/// <summary>A fact that needs Cosmos DB (an account, an emulator or the local test server), skipped with the reason when none can run.</summary>
public sealed class CosmosFactAttribute : FactAttribute
{
    public CosmosFactAttribute()
    {
        if (CosmosContractContainer.Endpoint is null && LocalCosmosServer.Unavailable is { } reason)
            Skip = $"Cosmos DB store not tested: {reason} Or set COSMOS_TEST_ENDPOINT (and COSMOS_TEST_KEY unless it is the emulator) to run the contract suite on an account or emulator.";
    }
}

/// <summary>
/// A container of the run's own with the production container policy: on the configured account or
/// emulator, or else on a local test server of its own.
/// </summary>
public sealed class CosmosContractContainer : IAsyncLifetime
{
    private CosmosClient? _client;
    private CosmosMemoryStore? _store;
    private LocalCosmosServer? _local;

    public static string? Endpoint { get; } = Environment.GetEnvironmentVariable("COSMOS_TEST_ENDPOINT") is { Length: > 0 } endpoint ? endpoint : null;

    /// <summary>Where the suite runs, for the test output.</summary>
    public static string Target => Endpoint is not null ? $"Cosmos DB at {Endpoint}" : "the local Cosmos DB test server";

    public CosmosMemoryStore Store => _store ?? _local?.Store ?? throw new InvalidOperationException("No Cosmos DB to test against.");

    public async Task InitializeAsync()
    {
        if (Endpoint is null)
        {
            if (LocalCosmosServer.Unavailable is not null) return;
            _local = new LocalCosmosServer();
            await _local.InitializeAsync();
            return;
        }
        var key = Environment.GetEnvironmentVariable("COSMOS_TEST_KEY") is { Length: > 0 } k ? k : CosmosStoreOptions.EmulatorKey;
        var options = new CosmosStoreOptions
        {
            Endpoint = Endpoint,
            Key = key,
            Database = "serverless-memory-tests",
            Container = "contract-" + Guid.NewGuid().ToString("N")[..8],
            CreateIfNotExists = true,
            // 3, as the contract's vectors: those go through the vector index, the 2-dimensional ones through exact search.
            EmbeddingDimensions = 3,
            AllowInsecureEmulatorCertificate = key == CosmosStoreOptions.EmulatorKey,
            ApplicationName = "ServerlessMemory.Tests",
        };
        _client = CosmosClients.Create(options);
        _store = new CosmosMemoryStore(_client, options);
        await _store.ContainerAsync();
    }

    public async Task DisposeAsync()
    {
        if (_local is not null) await _local.DisposeAsync();
        if (_client is null || _store is null) return;
        try
        {
            await (await _store.ContainerAsync()).DeleteContainerAsync();
        }
        finally
        {
            _client.Dispose();
        }
    }
}
