namespace ServerlessMemory.Core;

/// <summary>Size limits, enforced on every write (section <c>Memory:Limits</c>).</summary>
public sealed class MemoryLimits
{
    public int MessageChars { get; set; } = 8_000;
    public int ArchiveChars { get; set; } = 4_000;
    public int BlockLimit { get; set; } = 2_000;
    public int MaxBlockLimit { get; set; } = 20_000;
    public int MaxBlocks { get; set; } = 32;
    public int RequestBodyBytes { get; set; } = 64 * 1024;
    /// <summary>The import route's own body limit: an export document is far larger than any other request.</summary>
    public long ImportBodyBytes { get; set; } = 512L * 1024 * 1024;
    /// <summary>Records an import writes in one transaction (one chunk).</summary>
    public int ImportChunkRecords { get; set; } = 100;
    /// <summary>Bytes of the document an import writes in one chunk, so that a chunk fits one Cosmos DB batch (2 MB).</summary>
    public int ImportChunkBytes { get; set; } = 1024 * 1024;
    public int MetadataEntries { get; set; } = 16;
    public int MetadataChars { get; set; } = 256;
    public int MaxTop { get; set; } = 20;
    public int MaxPageSize { get; set; } = 100;
    /// <summary>A chat reply longer than this is a model failure, not a memory: nothing of the turn is kept.</summary>
    public int ReplyChars { get; set; } = 32_000;
    /// <summary>Each store call's deadline: a store that has not answered by then is a 503 with Retry-After (zero: none).</summary>
    public TimeSpan StoreTimeout { get; set; } = TimeSpan.FromSeconds(10);
}

/// <summary>The forgetting model (section <c>Decay</c>). Defaults are the seed's numbers.</summary>
public sealed class DecayOptions
{
    /// <summary>NCRONTAB with seconds, as Azure Functions' timer trigger reads it.</summary>
    public string Schedule { get; set; } = "0 0 * * * *";
    public double Threshold { get; set; } = 0.01;

    /// <summary>Hourly decay rate per memory type.</summary>
    public Dictionary<string, double> Rates { get; set; } = new(StringComparer.OrdinalIgnoreCase)
    {
        ["identity"] = 0.0,
        ["preference"] = 0.01,
        ["fact"] = 0.05,
        ["context"] = 0.1,
        ["trivial"] = 0.3,
    };

    public double DefaultRate { get; set; } = 0.05;
    public double RelevanceWeight { get; set; } = 0.4;
    public double ImportanceWeight { get; set; } = 0.4;
    public double AccessWeight { get; set; } = 0.2;
    public double AccessBonusPerAccess { get; set; } = 0.02;
    public double AccessBonusMax { get; set; } = 0.2;

    /// <summary>A sweep stops after this long and leaves the rest to the next run.</summary>
    public TimeSpan SweepBudget { get; set; } = TimeSpan.FromMinutes(2);
}

/// <summary>How search finds and ranks memories (section <c>Memory:Search</c>); docs/decay.md, "Search".</summary>
public sealed class SearchOptions
{
    /// <summary>The share of what lexical relevance leaves of 1 that vector relevance may fill (docs/decay.md, "Search").</summary>
    public double VectorWeight { get; set; } = 0.2;
    /// <summary>Candidates read from each index (the best by BM25 of every lexical match, the nearest by vector) before the decay-aware score orders them.</summary>
    public int Candidates { get; set; } = 50;
    /// <summary>An embedding call that takes longer is given up: the memory is stored without its vector, the search is lexical.</summary>
    public TimeSpan EmbeddingTimeout { get; set; } = TimeSpan.FromSeconds(3);
    /// <summary>After an embedding call failed, embeddings are not asked for this long (each call would wait its timeout).</summary>
    public TimeSpan EmbeddingPause { get; set; } = TimeSpan.FromSeconds(30);
    /// <summary>
    /// The weight of a Chinese (CJK) question's single characters beside its bigrams (0: bigrams only).
    /// A bigram straddling two words finds nothing; the characters still weigh what is shared.
    /// </summary>
    public double CjkCharacterWeight { get; set; } = 0.4;
    /// <summary>
    /// In a message that asks something among sentences that do not, the weight of what only those
    /// sentences say (1: every sentence alike). Half: chatter should not outweigh the question, while
    /// context it leans on ("My sister Ana came over. Where does she live?") still counts.
    /// </summary>
    public double ContextWeight { get; set; } = 0.5;
    /// <summary>BM25's term-frequency saturation.</summary>
    public double K1 { get; set; } = 1.2;
    /// <summary>BM25's length normalisation (0.65: tuned on the retrieval sets' tuning halves; 0.75 is the textbook's).</summary>
    public double B { get; set; } = 0.65;
    /// <summary>
    /// A memory whose BM25 is below this share of a full match of the query is not a lexical match.
    /// Low enough that a question wrapped in chatter still finds what its few real words match
    /// (0.05: chosen on the retrieval sets' tuning halves, where 0.1 cut such matches).
    /// </summary>
    public double MinLexicalRelevance { get; set; } = 0.05;
    /// <summary>A memory whose cosine similarity to the query is below this is not a vector match.</summary>
    public double MinVectorSimilarity { get; set; } = 0.3;
}

/// <summary>How a chat turn is run (section <c>Chat</c>).</summary>
public sealed class ChatTurnOptions
{
    /// <summary>The prompt's budget in tokens (o200k): instructions, core, recalled memories, summary, window, message.</summary>
    public int PromptTokens { get; set; } = 6_000;
    /// <summary>The most recent messages of the session kept in the prompt, if they fit (the seed keeps 20).</summary>
    public int WindowMessages { get; set; } = 20;
    /// <summary>Archive memories recalled into the prompt each turn.</summary>
    public int RecallTop { get; set; } = 5;
    /// <summary>Model requests per turn, tool rounds included.</summary>
    public int MaxToolSteps { get; set; } = 6;
    /// <summary>The running summary of what left the window is kept to this many tokens.</summary>
    public int SummaryTokens { get; set; } = 400;
    public TimeSpan TurnTimeout { get; set; } = TimeSpan.FromSeconds(45);
    /// <summary>Memories one extraction may store (core lines and archive items together); more are dropped.</summary>
    public int ExtractionMaxItems { get; set; } = 8;
    /// <summary>Blocks extraction never writes, besides read-only ones: the assistant's own persona by default.</summary>
    public string[] ExtractionExcludedBlocks { get; set; } = ["persona"];
    /// <summary>Runs extraction before the main call, as the seed does: only to measure the difference.</summary>
    public bool SequentialExtraction { get; set; }
}
