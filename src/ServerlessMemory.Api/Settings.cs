namespace ServerlessMemory.Api;

/// <summary>Section <c>Memory</c>: where memory is kept.</summary>
public sealed class MemoryOptions
{
    public string Store { get; set; } = "Sqlite";
    public string SqlitePath { get; set; } = "data/memory.db";
    public SqliteSettings Sqlite { get; set; } = new();
}

/// <summary>Section <c>Memory:Sqlite</c>: the embedded store's memory use.</summary>
public sealed class SqliteSettings
{
    /// <summary>Budget of the in-memory vector indexes; the least recently searched users are evicted past it.</summary>
    public int VectorCacheMegabytes { get; set; } = ServerlessMemory.Sqlite.SqliteMemoryStore.DefaultVectorCacheMegabytes;

    /// <summary>Budget of the in-memory lexical indexes (each user's terms, counts and lengths); the least recently searched users are evicted past it.</summary>
    public int LexicalCacheMegabytes { get; set; } = ServerlessMemory.Sqlite.SqliteMemoryStore.DefaultLexicalCacheMegabytes;
}

/// <summary>Section <c>Model</c>: the chat, extraction and embedding models.</summary>
public sealed class ModelOptions
{
    /// <summary><c>AzureOpenAI</c>, <c>OpenAI</c> (any OpenAI-compatible endpoint) or <c>None</c>.</summary>
    public string Provider { get; set; } = "None";
    public string? Endpoint { get; set; }
    public string? ApiKey { get; set; }
    public string ChatModel { get; set; } = "gpt-4.1";
    public string ExtractionModel { get; set; } = "gpt-4.1-mini";
    /// <summary>Empty means no embeddings: search is lexical only.</summary>
    public string? EmbeddingModel { get; set; } = "text-embedding-3-small";
    public int EmbeddingDimensions { get; set; } = 1536;
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(60);
    public int MaxRetries { get; set; } = 3;
    /// <summary>A longer Retry-After than this is not waited for: the caller gets a 503 with it.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(20);

    public bool IsConfigured => !string.Equals(Provider, "None", StringComparison.OrdinalIgnoreCase);
    public bool IsAzure => string.Equals(Provider, "AzureOpenAI", StringComparison.OrdinalIgnoreCase);
}

/// <summary>Section <c>Auth</c>: the self-host's keys (Azure Functions keeps its own).</summary>
public sealed class AuthOptions
{
    public string? ApiKey { get; set; }
    public string? AdminKey { get; set; }

    /// <summary>
    /// Requires <c>{userId}</c> to be the caller's own principal as App Service authentication
    /// (Easy Auth) reports it in <c>X-MS-CLIENT-PRINCIPAL-ID</c>; else 403. Off by default, and then
    /// the header is never read, because without the platform in front anyone can send it.
    /// </summary>
    public bool RequireUserPrincipal { get; set; }

    public bool HasKeys => !string.IsNullOrEmpty(ApiKey) || !string.IsNullOrEmpty(AdminKey);
}
