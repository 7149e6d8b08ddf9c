namespace ServerlessMemory.Core;

/// <summary>What kind of memory an archive item is; each type forgets at its own rate.</summary>
public enum MemoryType
{
    Identity,
    Preference,
    Fact,
    Context,
    Trivial,
}

public static class MemoryTypes
{
    private static readonly string[] names = ["identity", "preference", "fact", "context", "trivial"];

    public static IReadOnlyList<string> Names => names;

    public static string ToName(this MemoryType type) => Names[(int)type];

    public static bool TryParse(string? name, out MemoryType type)
    {
        var index = name is null ? -1 : Array.IndexOf(names, name.Trim().ToLowerInvariant());
        type = index < 0 ? MemoryType.Fact : (MemoryType)index;
        return index >= 0;
    }
}
