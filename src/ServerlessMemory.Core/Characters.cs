namespace ServerlessMemory.Core;

/// <summary>
/// How every limit stated in characters counts: Unicode scalar values (what JSON Schema's
/// <c>maxLength</c> counts, and one per emoji or CJK character, whether or not UTF-16 needs two code
/// units for it). Grapheme clusters were not chosen: a cluster can hold any number of combining marks,
/// so a limit in clusters would bound nothing stored; a combining mark counts as one character.
/// </summary>
public static class Characters
{
    /// <summary>Unicode scalar values in <paramref name="text"/>; a lone surrogate counts as one.</summary>
    public static int Count(string text)
    {
        var span = text.AsSpan();
        // Most text has no surrogate pair at all: then UTF-16 code units are scalar values.
        var first = span.IndexOfAnyInRange('\uD800', '\uDBFF');
        if (first < 0) return span.Length;
        var pairs = 0;
        for (var i = first; i < span.Length - 1; i++)
            if (char.IsHighSurrogate(span[i]) && char.IsLowSurrogate(span[i + 1]))
            {
                pairs++;
                i++;
            }
        return span.Length - pairs;
    }

    /// <summary>Throws <see cref="MemoryValidationException"/> naming <paramref name="field"/> when <paramref name="text"/> has more than <paramref name="max"/> characters.</summary>
    public static string AtMost(string text, int max, string field)
    {
        // Counting is only needed near the limit: a string of at most max UTF-16 units has at most max characters.
        if (text.Length <= max) return text;
        var count = Count(text);
        return count <= max ? text
            : throw new MemoryValidationException(field, $"'{field}' has {count} characters; at most {max} are allowed.");
    }

    /// <summary>Whether <paramref name="text"/> has at most <paramref name="max"/> characters.</summary>
    public static bool Fit(string text, int max) => text.Length <= max || Count(text) <= max;
}
