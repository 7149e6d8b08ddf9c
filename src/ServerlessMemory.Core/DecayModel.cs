namespace ServerlessMemory.Core;

/// <summary>
/// Importance and recency after Generative Agents, as the seed has it, with one change: the access
/// bonus fades at the memory's own rate since its last access, so a trivial memory read once still
/// fades, while identity (rate 0) never does. See docs/decay.md.
/// </summary>
public sealed class DecayModel(DecayOptions options)
{
    private static readonly TimeSpan Horizon = TimeSpan.FromDays(365 * 100);

    public DecayOptions Options { get; } = options;

    public double RateOf(MemoryType type) =>
        Options.Rates.TryGetValue(type.ToName(), out var rate) ? rate : Options.DefaultRate;

    /// <summary><c>exp(-rate * age_hours)</c>, age counted from when it entered memory (not from when it happened).</summary>
    public double Decay(ArchiveItem item, DateTimeOffset now) =>
        Math.Exp(-RateOf(item.Type) * Hours(now - item.EnteredAt));

    /// <summary><c>min(max, per_access * n)</c>, fading since the last access.</summary>
    public double AccessBonus(ArchiveItem item, DateTimeOffset now) =>
        BaseBonus(item.AccessCount) * Math.Exp(-RateOf(item.Type) * Hours(now - item.LastAccessedAt));

    public double Strength(ArchiveItem item, DateTimeOffset now) =>
        item.Importance * Decay(item, now) + AccessBonus(item, now);

    public Score Score(ArchiveItem item, double relevance, DateTimeOffset now)
    {
        var decay = Decay(item, now);
        var bonus = AccessBonus(item, now);
        var total = relevance * Options.RelevanceWeight
                    + item.Importance * decay * Options.ImportanceWeight
                    + bonus * Options.AccessWeight;
        return new(total, relevance, decay, bonus);
    }

    /// <summary>
    /// Strength only falls between accesses: <c>S(t) = e^(-r(t-a)) * (I e^(-r(a-e)) + B)</c> with e the
    /// time it entered memory and a the last access, so it crosses the threshold once, at
    /// <c>t = a + ln((I e^(-r(a-e)) + B) / threshold) / r</c>. Null when it never does.
    /// </summary>
    public DateTimeOffset? ForgetAt(ArchiveItem item)
    {
        var rate = RateOf(item.Type);
        if (rate <= 0) return null;
        var atAccess = item.Importance * Math.Exp(-rate * Hours(item.LastAccessedAt - item.EnteredAt))
                       + BaseBonus(item.AccessCount);
        var hours = Math.Log(atAccess / Options.Threshold) / rate;
        if (double.IsNaN(hours) || hours <= 0) return item.LastAccessedAt;
        var after = TimeSpan.FromHours(Math.Min(hours, Horizon.TotalHours));
        return item.LastAccessedAt + after;
    }

    /// <summary>The item as it is after one more access at <paramref name="now"/>.</summary>
    public ArchiveItem Accessed(ArchiveItem item, DateTimeOffset now)
    {
        var accessed = item with { AccessCount = item.AccessCount + 1, LastAccessedAt = Max(now, item.LastAccessedAt) };
        return accessed with { ForgetAt = ForgetAt(accessed) };
    }

    /// <summary>
    /// <paramref name="count"/> accesses of <paramref name="item"/> (as it was read from the store), the
    /// last at <paramref name="at"/>, as one write: the count they add, the time, and where forgetting moves.
    /// </summary>
    public ArchiveAccess Access(ArchiveItem item, int count, DateTimeOffset at)
    {
        var accessed = item with { AccessCount = item.AccessCount + count, LastAccessedAt = Max(at, item.LastAccessedAt) };
        return new(item.Id, at, ForgetAt(accessed), count);
    }

    private double BaseBonus(int accessCount) =>
        Math.Min(Options.AccessBonusMax, Options.AccessBonusPerAccess * accessCount);

    private static double Hours(TimeSpan span) => Math.Max(0, span.TotalHours);

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;
}
