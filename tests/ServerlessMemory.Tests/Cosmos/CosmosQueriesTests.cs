using System.Reflection;
using Microsoft.Azure.Cosmos;
using ServerlessMemory.Core;
using ServerlessMemory.Cosmos;

namespace ServerlessMemory.Tests.Cosmos;

/// <summary>
/// The SQL text and parameters of every query the Cosmos store sends, pinned: the local server
/// cannot run them, so a change here is a change someone has to run on an emulator or account.
/// </summary>
public sealed class CosmosQueriesTests
{
    private const string Fields = "c.id, c.content, c.memoryType, c.importance, c.createdAt, c.lastAccessedAt, c.accessCount, c.metadata, c.forgetAt";
    private const string Vector = "VectorDistance(c.embedding, @vector, true, {'distanceFunction': 'cosine', 'dataType': 'float32'})";
    private const string HasTerm = "EXISTS(SELECT VALUE t FROM t IN c.terms WHERE ARRAY_CONTAINS(@terms, t))";

    public static TheoryData<string, string> Texts => new()
    {
        { nameof(CosmosQueries.ListArchive), $"SELECT {Fields} FROM c WHERE c.userId = @userId AND c.type = 'archive' ORDER BY c.createdAt DESC" },
        { nameof(CosmosQueries.ArchiveLexical), $"SELECT TOP @top {Fields} FROM c WHERE c.userId = @userId AND c.type = 'archive' AND {HasTerm} ORDER BY c.createdAt DESC" },
        {
            nameof(CosmosQueries.ArchiveLexicalScored),
            $"SELECT TOP @top {Fields}, (IS_ARRAY(c.embedding) AND ARRAY_LENGTH(c.embedding) = @dimensions ? {Vector} : null) AS similarity " +
            $"FROM c WHERE c.userId = @userId AND c.type = 'archive' AND {HasTerm} ORDER BY c.createdAt DESC"
        },
        {
            nameof(CosmosQueries.ArchiveVector),
            $"SELECT TOP @top {Fields}, VectorDistance(c.embedding, @vector) AS similarity FROM c " +
            "WHERE c.userId = @userId AND c.type = 'archive' ORDER BY VectorDistance(c.embedding, @vector)"
        },
        {
            nameof(CosmosQueries.ArchiveVectorExact),
            $"SELECT TOP @top {Fields}, {Vector} AS similarity FROM c " +
            $"WHERE c.userId = @userId AND c.type = 'archive' AND ARRAY_LENGTH(c.embedding) = @dimensions ORDER BY {Vector}"
        },
        {
            nameof(CosmosQueries.ListMessages),
            "SELECT c.id, c.sessionId, c.turnId, c.role, c.content, c.createdAt FROM c WHERE c.userId = @userId AND c.type = 'message' ORDER BY c.createdAt DESC"
        },
        {
            nameof(CosmosQueries.ListSessionMessages),
            "SELECT c.id, c.sessionId, c.turnId, c.role, c.content, c.createdAt FROM c WHERE c.userId = @userId AND c.type = 'message' " +
            "AND c.sessionId = @sessionId ORDER BY c.createdAt DESC"
        },
        {
            nameof(CosmosQueries.SearchMessages),
            $"SELECT TOP @top c.id, c.sessionId, c.turnId, c.role, c.content, c.createdAt FROM c WHERE c.userId = @userId AND c.type = 'message' " +
            $"AND {HasTerm} ORDER BY c.createdAt DESC"
        },
        { nameof(CosmosQueries.UserDocumentIds), "SELECT VALUE c.id FROM c WHERE c.userId = @userId" },
        { nameof(CosmosQueries.DueArchiveItems), "SELECT c.id, c.userId, c._etag FROM c WHERE c.type = 'archive' AND c.forgetAt <= @now" },
    };

    private static IEnumerable<FieldInfo> Queries => typeof(CosmosQueries)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Where(f => f.IsLiteral && f.FieldType == typeof(string) && ((string)f.GetRawConstantValue()!).StartsWith("SELECT", StringComparison.Ordinal));

    private static string Text(string name) => (string)typeof(CosmosQueries).GetField(name)!.GetRawConstantValue()!;

    private static List<(string Name, object Value)> Parameters(QueryDefinition query) => [.. query.GetQueryParameters()];

    [Theory]
    [MemberData(nameof(Texts))]
    public void The_sql_text_is_pinned(string name, string text) => Assert.Equal(text, Text(name));

    [Fact]
    public void Every_query_is_pinned()
    {
        var pinned = Texts.Select(row => (string)row[0]).ToHashSet();
        Assert.Equal(pinned.Order(StringComparer.Ordinal), Queries.Select(f => f.Name).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Every_query_but_the_sweep_is_confined_to_one_user()
    {
        foreach (var query in Queries.Where(f => f.Name != nameof(CosmosQueries.DueArchiveItems)))
            Assert.Contains("WHERE c.userId = @userId", (string)query.GetRawConstantValue()!, StringComparison.Ordinal);
    }

    [Fact]
    public void No_query_reads_embeddings_or_terms_back()
    {
        foreach (var query in Queries)
        {
            var select = ((string)query.GetRawConstantValue()!).Split(" FROM c")[0];
            Assert.DoesNotMatch(@"(SELECT|TOP @top|,)\s*c\.(embedding|terms)\b", select);
            Assert.DoesNotContain("*", select, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Listing_the_archive_takes_the_user()
    {
        var query = CosmosQueries.ListArchiveQuery("u1");

        Assert.Equal(CosmosQueries.ListArchive, query.QueryText);
        Assert.Equal([("@userId", (object)"u1")], Parameters(query));
    }

    [Fact]
    public void Lexical_search_reads_four_times_the_limit_capped_at_a_thousand()
    {
        string[] terms = ["项目", "xgboost"];
        var query = CosmosQueries.ArchiveLexicalQuery("u1", terms, 10);

        Assert.Equal(CosmosQueries.ArchiveLexical, query.QueryText);
        Assert.Equal([("@top", (object)40), ("@userId", "u1"), ("@terms", terms)], Parameters(query));
        Assert.Equal(1_000, CosmosQueries.LexicalTop(5_000));
        Assert.Equal(1_000, CosmosQueries.LexicalTop(int.MaxValue));
    }

    [Fact]
    public void Lexical_search_with_a_vector_scores_each_row_against_it()
    {
        string[] terms = ["项目"];
        float[] vector = [1, 0, 0];
        var query = CosmosQueries.ArchiveLexicalQuery("u1", terms, 5, vector);

        Assert.Equal(CosmosQueries.ArchiveLexicalScored, query.QueryText);
        Assert.Equal([("@top", (object)20), ("@userId", "u1"), ("@terms", terms), ("@vector", vector), ("@dimensions", 3)], Parameters(query));
    }

    [Fact]
    public void Vector_search_uses_the_index_for_the_containers_dimensions()
    {
        var vector = new float[1536];
        var query = CosmosQueries.ArchiveVectorQuery("u1", vector, 7, 1536);

        Assert.Equal(CosmosQueries.ArchiveVector, query.QueryText);
        Assert.Equal([("@top", (object)7), ("@userId", "u1"), ("@vector", vector)], Parameters(query));
    }

    [Fact]
    public void Vector_search_with_another_length_compares_only_vectors_of_that_length_exactly()
    {
        float[] vector = [2, 0.1f, 0];
        var query = CosmosQueries.ArchiveVectorQuery("u1", vector, 2, 1536);

        Assert.Equal(CosmosQueries.ArchiveVectorExact, query.QueryText);
        Assert.Equal([("@top", (object)2), ("@userId", "u1"), ("@vector", vector), ("@dimensions", 3)], Parameters(query));
    }

    [Fact]
    public void Messages_are_listed_for_the_user_or_one_session()
    {
        var all = CosmosQueries.ListMessagesQuery("u1", null);
        var session = CosmosQueries.ListMessagesQuery("u1", "s1");

        Assert.Equal(CosmosQueries.ListMessages, all.QueryText);
        Assert.Equal([("@userId", (object)"u1")], Parameters(all));
        Assert.Equal(CosmosQueries.ListSessionMessages, session.QueryText);
        Assert.Equal([("@userId", (object)"u1"), ("@sessionId", "s1")], Parameters(session));
    }

    [Fact]
    public void Message_search_takes_the_limit_and_terms()
    {
        string[] terms = ["数据", "科学"];
        var query = CosmosQueries.SearchMessagesQuery("u1", terms, 10);

        Assert.Equal(CosmosQueries.SearchMessages, query.QueryText);
        Assert.Equal([("@top", (object)10), ("@userId", "u1"), ("@terms", terms)], Parameters(query));
    }

    [Fact]
    public void Erasing_reads_every_document_id_of_the_user()
    {
        var query = CosmosQueries.UserDocumentIdsQuery("u1");

        Assert.Equal(CosmosQueries.UserDocumentIds, query.QueryText);
        Assert.Equal([("@userId", (object)"u1")], Parameters(query));
    }

    [Fact]
    public void The_sweep_compares_forget_at_with_now_in_the_stored_format()
    {
        var query = CosmosQueries.DueArchiveItemsQuery(new DateTimeOffset(2026, 3, 1, 16, 0, 0, TimeSpan.FromHours(8)));

        Assert.Equal(CosmosQueries.DueArchiveItems, query.QueryText);
        Assert.Equal([("@now", (object)"2026-03-01T08:00:00.0000000Z")], Parameters(query));
    }
}
