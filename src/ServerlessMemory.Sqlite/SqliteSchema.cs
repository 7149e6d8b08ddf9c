using Microsoft.Data.Sqlite;
using static ServerlessMemory.Sqlite.SqliteCommands;

namespace ServerlessMemory.Sqlite;

/// <summary>The tables of <c>Schema.sql</c>, and what brings a file made by an earlier build up to them.</summary>
internal static class SqliteSchema
{
    /// <summary>Creates what is missing, adds the columns added since, and indexes again terms another version wrote.</summary>
    public static void Apply(SqliteConnection connection)
    {
        using var schema = typeof(SqliteSchema).Assembly.GetManifestResourceStream("Schema.sql")!;
        Execute(connection, new StreamReader(schema).ReadToEnd());
        Migrate(connection);
        SqliteLexicalIndex.Reindex(connection);
    }

    /// <summary>Brings a file made by an earlier build up to the schema: columns added since are added, empty (entered_at filled from created_at).</summary>
    private static void Migrate(SqliteConnection connection)
    {
        var columns = new HashSet<string>(StringComparer.Ordinal);
        using (var info = Command(connection, "SELECT name FROM pragma_table_info('archive')"))
        using (var reader = info.ExecuteReader())
            while (reader.Read()) columns.Add(reader.GetString(0));
        if (!columns.Contains("superseded_at")) Execute(connection, "ALTER TABLE archive ADD COLUMN superseded_at INTEGER");
        if (!columns.Contains("superseded_by")) Execute(connection, "ALTER TABLE archive ADD COLUMN superseded_by TEXT");
        if (!columns.Contains("entered_at"))
        {
            // Memories stored before the entry time was kept entered memory when they were created.
            using var tx = connection.BeginTransaction();
            Execute(connection, "ALTER TABLE archive ADD COLUMN entered_at INTEGER");
            Execute(connection, "UPDATE archive SET entered_at = created_at");
            tx.Commit();
        }
        // The archive's terms live in memory now (SqliteLexicalIndex), counted from the content.
        Execute(connection, "DROP TABLE IF EXISTS archive_terms");
        if (!columns.Contains("history")) Execute(connection, "ALTER TABLE archive ADD COLUMN history TEXT");
    }
}
