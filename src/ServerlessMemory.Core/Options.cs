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
    public int MetadataEntries { get; set; } = 16;
    public int MetadataChars { get; set; } = 256;
    public int MaxTop { get; set; } = 20;
    public int MaxPageSize { get; set; } = 100;
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

/// <summary>How search combines lexical and vector relevance (section <c>Memory:Search</c>).</summary>
public sealed class SearchOptions
{
    /// <summary>Share of vector similarity in relevance when embeddings exist; the rest is lexical.</summary>
    public double VectorWeight { get; set; } = 0.7;
    /// <summary>Candidates taken from each index before the decay-aware ranking.</summary>
    public int Candidates { get; set; } = 50;
}
