using System.Globalization;

namespace ServerlessMemory.Core;

/// <summary>The one way times are written: ISO-8601 in UTC, milliseconds, 'Z' (what the stores keep).</summary>
public static class UtcTime
{
    public const string Format = "yyyy-MM-dd'T'HH:mm:ss.fff'Z'";

    public static string ToText(DateTimeOffset time) => time.UtcDateTime.ToString(Format, CultureInfo.InvariantCulture);
}
