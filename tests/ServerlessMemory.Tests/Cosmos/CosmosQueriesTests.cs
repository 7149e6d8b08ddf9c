using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Azure.Cosmos;
using ServerlessMemory.Core;
using ServerlessMemory.Cosmos;

namespace ServerlessMemory.Tests.Cosmos;

/// <summary>
/// The SQL text and parameters of every query the Cosmos store sends, pinned, and the rows they
/// project read back as the store reads them. The contract suite runs them on the local server; what
/// only the service can tell (RU, the vector index, <c>TOP @n</c> plans) needs an account or emulator.
/// </summary>
public sealed class CosmosQueriesTests
{
    private const string Fields = "c.id, c.userId, c.type, c.content, c.memoryType, c.importance, c.createdAt, c.enteredAt, c.lastAccessedAt, c.accessCount, c.metadata, c.forgetAt, c.supersededAt, c.supersededBy, c.history";
    private const string MessageFields = "c.id, c.userId, c.type, c.sessionId, c.turnId, c.role, c.content, c.createdAt";

    public static TheoryData<string, string> Texts => new()
    {
        { nameof(CosmosQueries.ListArchive), $"SELECT {Fields} FROM c WHERE c.userId = @userId AND c.type = 'archive' ORDER BY c.createdAt DESC" },
        { nameof(CosmosQueries.ArchiveLexical), "SELECT TOP @top c.id, c.content FROM c WHERE c.userId = @userId AND c.type = 'archive' AND ({0}) ORDER BY c.createdAt DESC" },
        { nameof(CosmosQueries.ArchiveLexicalAll), "SELECT TOP @top c.id, c.content FROM c WHERE c.userId = @userId AND c.type = 'archive' AND ({0}) ORDER BY c.createdAt DESC" },
        { nameof(CosmosQueries.TermCount), "SELECT VALUE COUNT(1) FROM c WHERE c.userId = @userId AND c.type = 'archive' AND ARRAY_CONTAINS(c.terms, @term)" },
        { nameof(CosmosQueries.ArchiveCount), "SELECT VALUE COUNT(1) FROM c WHERE c.userId = @userId AND c.type = 'archive'" },
        { nameof(CosmosQueries.ArchiveAverageLength), "SELECT VALUE AVG(c.termCount) FROM c WHERE c.userId = @userId AND c.type = 'archive'" },
        { nameof(CosmosQueries.ArchiveByIds), $"SELECT {Fields} FROM c WHERE c.userId = @userId AND c.type = 'archive' AND ARRAY_CONTAINS(@ids, c.id)" },
        {
            nameof(CosmosQueries.ArchiveByIdsWithSimilarity),
            $"SELECT {Fields}, VectorDistance(c.embedding, @vector) AS similarity FROM c WHERE c.userId = @userId AND c.type = 'archive' AND ARRAY_CONTAINS(@ids, c.id)"
        },
        {
            nameof(CosmosQueries.ArchiveVector),
            $"SELECT TOP @top {Fields}, VectorDistance(c.embedding, @vector) AS similarity FROM c " +
            "WHERE c.userId = @userId AND c.type = 'archive' ORDER BY VectorDistance(c.embedding, @vector)"
        },
        { nameof(CosmosQueries.ListMessages), $"SELECT {MessageFields} FROM c WHERE c.userId = @userId AND c.type = 'message' ORDER BY c.createdAt DESC" },
        {
            nameof(CosmosQueries.ListSessionMessages),
            $"SELECT {MessageFields} FROM c WHERE c.userId = @userId AND c.type = 'message' AND c.sessionId = @sessionId ORDER BY c.createdAt DESC"
        },
        {
            nameof(CosmosQueries.SearchMessages),
            $"SELECT TOP @top {MessageFields} FROM c WHERE c.userId = @userId AND c.type = 'message' AND ({{0}}) ORDER BY c.createdAt DESC"
        },
        { nameof(CosmosQueries.UserDocumentIds), "SELECT VALUE c.id FROM c WHERE c.userId = @userId" },
        { nameof(CosmosQueries.DueArchiveItems), "SELECT c.id, c.userId, c._etag FROM c WHERE c.type = 'archive' AND c.forgetAt <= @now" },
        {
            nameof(CosmosQueries.ArchiveWithoutVector),
            "SELECT c.id, c.userId, c.content, c._etag FROM c WHERE c.type = 'archive' AND c.pendingVector = true " +
            "AND (NOT IS_DEFINED(c.forgetAt) OR IS_NULL(c.forgetAt) OR c.forgetAt > @now)"
        },
        {
            nameof(CosmosQueries.NextUser),
            "SELECT TOP 1 VALUE c.userId FROM c WHERE c.userId > @after AND STARTSWITH(c.userId, @prefix) ORDER BY c.userId"
        },
        {
            nameof(CosmosQueries.ArchiveVectors),
            "SELECT c.id, c.embedding FROM c WHERE c.userId = @userId AND c.type = 'archive' AND ARRAY_CONTAINS(@ids, c.id) AND IS_DEFINED(c.embedding)"
        },
        {
            nameof(CosmosQueries.UserArchiveWithoutVector),
            "SELECT c.id, c.userId, c.content, c._etag FROM c WHERE c.userId = @userId AND c.type = 'archive' AND c.pendingVector = true " +
            "AND (NOT IS_DEFINED(c.forgetAt) OR IS_NULL(c.forgetAt) OR c.forgetAt > @now)"
        },
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
    public void Every_query_but_the_sweep_the_backfill_and_the_user_listing_is_confined_to_one_user()
    {
        // The admin users route reads across users by design: one user id a query, never a document's content.
        foreach (var query in Queries.Where(f => f.Name is not (nameof(CosmosQueries.DueArchiveItems) or nameof(CosmosQueries.ArchiveWithoutVector) or nameof(CosmosQueries.NextUser))))
            Assert.Contains("WHERE c.userId = @userId", (string)query.GetRawConstantValue()!, StringComparison.Ordinal);
    }

    [Fact]
    public void No_query_reads_embeddings_or_terms_back_but_the_exports_read_of_vectors()
    {
        Assert.StartsWith("SELECT c.id, c.embedding FROM c WHERE c.userId = @userId AND c.type = 'archive' AND ARRAY_CONTAINS(@ids, c.id)",
            CosmosQueries.ArchiveVectors, StringComparison.Ordinal);
        foreach (var query in Queries.Where(q => q.Name != nameof(CosmosQueries.ArchiveVectors)))
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
    public void Lexical_matches_look_each_term_up_in_the_index_and_read_id_and_content_of_the_newest_up_to_the_cap()
    {
        string[] terms = ["项目", "xgboost"];
        var query = CosmosQueries.ArchiveLexicalQuery("u1", terms);

        Assert.Equal(
            "SELECT TOP @top c.id, c.content FROM c WHERE c.userId = @userId AND c.type = 'archive' " +
            "AND (ARRAY_CONTAINS(c.terms, @t0) OR ARRAY_CONTAINS(c.terms, @t1)) ORDER BY c.createdAt DESC",
            query.QueryText);
        Assert.Equal([("@t0", (object)"项目"), ("@t1", "xgboost"), ("@top", CosmosQueries.MaxLexicalMatches), ("@userId", "u1")], Parameters(query));
    }

    [Fact]
    public void Past_the_cap_the_memories_holding_every_term_and_each_terms_count_are_read_apart()
    {
        string[] terms = ["priya", "falcon"];
        var all = CosmosQueries.ArchiveLexicalAllQuery("u1", terms);
        var count = CosmosQueries.TermCountQuery("u1", "falcon");

        Assert.Equal(
            "SELECT TOP @top c.id, c.content FROM c WHERE c.userId = @userId AND c.type = 'archive' " +
            "AND (ARRAY_CONTAINS(c.terms, @t0) AND ARRAY_CONTAINS(c.terms, @t1)) ORDER BY c.createdAt DESC",
            all.QueryText);
        Assert.Equal("SELECT VALUE COUNT(1) FROM c WHERE c.userId = @userId AND c.type = 'archive' AND ARRAY_CONTAINS(c.terms, @term)", count.QueryText);
        Assert.Equal([("@userId", (object)"u1"), ("@term", "falcon")], Parameters(count));
    }

    [Fact]
    public void A_long_query_filters_by_its_first_distinct_terms_only()
    {
        var terms = LexicalTerms.ForQuery(string.Join(" ", Enumerable.Range(0, 300).Select(i => $"word{i}x")) + " 客户流失预测模型的特征工程");
        var query = CosmosQueries.ArchiveLexicalQuery("u1", terms);

        Assert.True(terms.Count > LexicalTerms.MaxFilterTerms);
        Assert.Equal(LexicalTerms.MaxFilterTerms, Parameters(query).Count(p => p.Name.StartsWith("@t", StringComparison.Ordinal) && p.Name != "@top"));
        Assert.Equal(LexicalTerms.FilterTerms(terms), terms.Distinct().Take(LexicalTerms.MaxFilterTerms));
    }

    [Fact]
    public void Vector_search_goes_through_the_index()
    {
        var vector = new float[1536];
        var query = CosmosQueries.ArchiveVectorQuery("u1", vector, 7);

        Assert.Equal(CosmosQueries.ArchiveVector, query.QueryText);
        Assert.Equal([("@top", (object)7), ("@userId", "u1"), ("@vector", vector)], Parameters(query));
    }

    /// <summary>
    /// The rows a query projects, exactly: a stored document cut down to the fields its SELECT list
    /// names, deserialised as the store reads it. A required member the projection leaves out fails here.
    /// </summary>
    [Theory]
    [InlineData(nameof(CosmosQueries.ListArchive))]
    [InlineData(nameof(CosmosQueries.ArchiveByIds))]
    [InlineData(nameof(CosmosQueries.ArchiveByIdsWithSimilarity))]
    [InlineData(nameof(CosmosQueries.ArchiveVector))]
    public void Archive_rows_as_projected_read_back_as_the_item(string name)
    {
        var item = new ArchiveItem
        {
            Id = "a1", Content = "当前项目是客户流失预测", Type = MemoryType.Fact, Importance = 0.6,
            CreatedAt = new(2026, 3, 1, 8, 0, 0, TimeSpan.Zero), EnteredAt = new(2026, 3, 1, 8, 0, 0, TimeSpan.Zero), LastAccessedAt = new(2026, 3, 2, 8, 0, 0, TimeSpan.Zero), AccessCount = 2,
            Metadata = new Dictionary<string, string> { ["source"] = "chat" }, ForgetAt = new(2026, 4, 1, 8, 0, 0, TimeSpan.Zero),
            Embedding = new float[] { 1, 0, 0 },
        };
        var row = Project(Text(name), ArchiveDocument.From("u1", item), similarity: 0.9);

        var read = JsonSerializer.Deserialize<ArchiveDocument>(row, CosmosJson.Options)!;

        Assert.Equal(item with { Embedding = null }, read.ToItem() with { Metadata = item.Metadata });
        Assert.Equal("chat", read.ToItem().Metadata["source"]);
    }

    [Theory]
    [InlineData(nameof(CosmosQueries.ListMessages))]
    [InlineData(nameof(CosmosQueries.ListSessionMessages))]
    [InlineData(nameof(CosmosQueries.SearchMessages))]
    public void Message_rows_as_projected_read_back_as_the_message(string name)
    {
        var message = new ConversationMessage("m1", "s1", "t1", "user", "我叫小明", new(2026, 3, 1, 8, 0, 0, TimeSpan.Zero));
        var row = Project(Text(name), MessageDocument.From("u1", message));

        Assert.Equal(message, JsonSerializer.Deserialize<MessageDocument>(row, CosmosJson.Options)!.ToMessage());
    }

    /// <summary>The document as the SELECT list projects it: <c>c.x</c> fields kept, <c>... AS alias</c> set.</summary>
    private static string Project<T>(string sql, T document, double? similarity = null)
    {
        var full = JsonNode.Parse(CosmosJson.Serialize(document))!.AsObject();
        var select = sql[..sql.IndexOf(" FROM c", StringComparison.Ordinal)].Replace("SELECT TOP @top ", "", StringComparison.Ordinal).Replace("SELECT ", "", StringComparison.Ordinal);
        var row = new JsonObject();
        foreach (var field in select.Split(", "))
        {
            if (field.StartsWith("c.", StringComparison.Ordinal) && full[field[2..]] is { } value) row[field[2..]] = value.DeepClone();
            else if (field.Split(" AS ") is [_, var alias]) row[alias] = similarity;
        }
        return row.ToJsonString();
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

        Assert.Equal(
            $"SELECT TOP @top {MessageFields} FROM c WHERE c.userId = @userId AND c.type = 'message' " +
            "AND (ARRAY_CONTAINS(c.terms, @t0) OR ARRAY_CONTAINS(c.terms, @t1)) ORDER BY c.createdAt DESC",
            query.QueryText);
        Assert.Equal([("@t0", (object)"数据"), ("@t1", "科学"), ("@top", 10), ("@userId", "u1")], Parameters(query));
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

    [Fact]
    public void The_backfill_reads_flagged_items_not_forgotten_by_now_through_the_range_index()
    {
        var all = CosmosQueries.ArchiveWithoutVectorQuery(null, new DateTimeOffset(2026, 3, 1, 16, 0, 0, TimeSpan.FromHours(8)));
        var one = CosmosQueries.ArchiveWithoutVectorQuery("u1", new DateTimeOffset(2026, 3, 1, 8, 0, 0, TimeSpan.Zero));
        var policy = MemoryContainer.Properties("memory", 3).IndexingPolicy;

        Assert.Equal(CosmosQueries.ArchiveWithoutVector, all.QueryText);
        Assert.Equal([("@now", (object)"2026-03-01T08:00:00.0000000Z")], Parameters(all));
        Assert.Equal(CosmosQueries.UserArchiveWithoutVector, one.QueryText);
        Assert.Equal([("@now", (object)"2026-03-01T08:00:00.0000000Z"), ("@userId", "u1")], Parameters(one).OrderBy(p => p.Name, StringComparer.Ordinal));
        // The flag and forgetAt are in the range index (everything is, but what is excluded): /embedding is not, so no query asks for its absence.
        Assert.Contains(policy.IncludedPaths, p => p.Path == "/*");
        Assert.All(policy.ExcludedPaths, p => Assert.False(p.Path.StartsWith("/pendingVector", StringComparison.Ordinal) || p.Path.StartsWith("/forgetAt", StringComparison.Ordinal), p.Path));
        Assert.Contains(policy.ExcludedPaths, p => p.Path == "/embedding/*");
    }
}
