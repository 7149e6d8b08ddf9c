using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;
using ServerlessMemory.Core;

namespace ServerlessMemory.Api;

/// <summary>Reads <c>If-Match</c> as RFC 9110 defines it: <c>*</c> or a list of entity tags, compared strongly.</summary>
internal static class Preconditions
{
    public static CorePrecondition? IfMatch(HttpRequest request, bool blockMustExist)
    {
        var values = request.Headers.IfMatch;
        if (values.All(string.IsNullOrWhiteSpace)) return null;
        if (!EntityTagHeaderValue.TryParseStrictList(values, out var tags) || tags.Count == 0)
            throw new MemoryValidationException("If-Match", "'If-Match' must be * or a list of entity tags, such as \"3\" as the ETag header gives them.");
        if (tags.Any(t => t.Tag == "*")) return new(Any: true, [], blockMustExist);
        // A weak tag never matches in a strong comparison.
        return new(Any: false, [.. tags.Where(t => !t.IsWeak).Select(t => t.Tag.Value!.Trim('"'))], blockMustExist);
    }
}
