using Microsoft.Extensions.Configuration;

namespace ServerlessMemory.Api;

/// <summary>Where memory is kept (<c>Memory__Store</c>).</summary>
public enum MemoryStoreKind
{
    /// <summary>A local SQLite file (<c>Memory__SqlitePath</c>).</summary>
    Sqlite,
    /// <summary>Azure Cosmos DB for NoSQL (section <c>Cosmos</c>).</summary>
    Cosmos,
}

/// <summary>Who serves the models (<c>Model__Provider</c>).</summary>
public enum ModelProvider
{
    /// <summary>No model: chat answers 501, search is lexical only.</summary>
    None,
    /// <summary>OpenAI or any OpenAI-compatible endpoint (<c>Model__Endpoint</c>).</summary>
    OpenAI,
    /// <summary>Azure OpenAI at <c>Model__Endpoint</c>, by key or <c>DefaultAzureCredential</c>.</summary>
    AzureOpenAI,
}

/// <summary>
/// The settings that are enums, with what a value that is none of their names is told. The binder
/// reads a name in any case (or a number, which <see cref="Enum.IsDefined{TEnum}(TEnum)"/> then checks);
/// a value it cannot read fails the binding itself, and start-up reports it with the same message.
/// </summary>
internal static class EnumSettings
{
    public const string Store = "Memory__Store must be Sqlite or Cosmos: set Memory__Store=Sqlite (a local file) or Memory__Store=Cosmos with Cosmos__Endpoint.";
    public const string Provider = "Model__Provider must be AzureOpenAI, OpenAI (any OpenAI-compatible endpoint) or None.";

    private static readonly (string Key, Type Type, string Message)[] All =
    [
        ("Memory:Store", typeof(MemoryStoreKind), Store),
        ("Model:Provider", typeof(ModelProvider), Provider),
    ];

    /// <summary>The message of the first enum setting whose value the binder cannot read, or null.</summary>
    public static string? Unreadable(IConfiguration configuration) =>
        All.FirstOrDefault(s => configuration[s.Key] is { } value && !Enum.TryParse(s.Type, value, ignoreCase: true, out _)).Message;
}

/// <summary>Section <c>Memory</c>: where memory is kept.</summary>
public sealed class MemoryOptions
{
    public MemoryStoreKind Store { get; set; } = MemoryStoreKind.Sqlite;
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
    public ModelProvider Provider { get; set; } = ModelProvider.None;
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

    public bool IsConfigured => Provider != ModelProvider.None;
    public bool IsAzure => Provider == ModelProvider.AzureOpenAI;
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
