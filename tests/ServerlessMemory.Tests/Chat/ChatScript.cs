using System.Text.Json.Nodes;
using ServerlessMemory.Tests.Api;
using ServerlessMemory.Tests.Scripted;

namespace ServerlessMemory.Tests.Chat;

/// <summary>The three kinds of request a turn makes, told apart as a scripted model would see them.</summary>
public static class ChatRequests
{
    public static bool IsExtraction(JsonObject request) =>
        request["response_format"]?["json_schema"]?["name"]?.GetValue<string>() == "memory_extraction";

    public static bool IsFold(JsonObject request) =>
        SystemText(request).StartsWith("Fold these messages", StringComparison.Ordinal);

    /// <summary>The small model asked to rewrite a full core block (consolidation).</summary>
    public static bool IsRewrite(JsonObject request) =>
        request["response_format"]?["json_schema"]?["name"]?.GetValue<string>() == "block_rewrite";

    public static bool IsMain(JsonObject request) => !IsExtraction(request) && !IsFold(request) && !IsRewrite(request);

    public static string SystemText(JsonObject request) =>
        request["messages"]!.AsArray().FirstOrDefault(m => (string?)m!["role"] is "system" or "developer")?["content"] switch
        {
            JsonValue v => v.GetValue<string>(),
            JsonArray parts => string.Concat(parts.Select(p => (string?)p!["text"])),
            _ => "",
        };

    public static string LastUser(JsonObject request) =>
        request["messages"]!.AsArray().Last(m => (string?)m!["role"] == "user")!["content"] switch
        {
            JsonValue v => v.GetValue<string>(),
            JsonArray parts => string.Concat(parts.Select(p => (string?)p!["text"])),
            _ => "",
        };

    /// <summary>What the user said this turn, also inside an extraction request (which quotes core memory first).</summary>
    public static string Said(JsonObject request)
    {
        var text = LastUser(request);
        const string marker = "The user's message:\n";
        var at = text.LastIndexOf(marker, StringComparison.Ordinal);
        return at < 0 ? text : text[(at + marker.Length)..];
    }

    public static JsonArray Messages(JsonObject request) => request["messages"]!.AsArray();

    public static bool HasToolResult(JsonObject request) => Messages(request).Any(m => (string?)m!["role"] == "tool");

    public static string NoExtraction => """{"core":[],"archive":[]}""";

    /// <summary>
    /// A self-host wired to the scripted model through the real OpenAI (or Azure OpenAI) client; with
    /// <paramref name="embeddings"/> its embeddings too (text-embedding-3-small at 64 dimensions), else none.
    /// </summary>
    public static ServiceFactory Service(ScriptedModelServer model, string provider = "OpenAI", bool embeddings = false)
    {
        var service = new ServiceFactory();
        service.Settings["Model:Provider"] = provider;
        service.Settings["Model:Endpoint"] = provider == "OpenAI" ? model.BaseUrl + "/v1" : model.BaseUrl;
        service.Settings["Model:ApiKey"] = "test-key";
        service.Settings["Model:EmbeddingModel"] = embeddings ? "text-embedding-3-small" : "";
        if (embeddings) service.Settings["Model:EmbeddingDimensions"] = "64";
        service.Settings["Model:MaxRetries"] = "1";
        return service;
    }
}
