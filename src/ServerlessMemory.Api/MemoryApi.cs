using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ServerlessMemory.Core;

namespace ServerlessMemory.Api;

public sealed record ScoreDto(double Total, double Relevance, double Decay, double AccessBonus);

public sealed record ArchiveItemDto(
    string Id, string Content, string Type, double Importance, DateTimeOffset CreatedAt, DateTimeOffset EnteredAt, DateTimeOffset LastAccessedAt,
    int AccessCount, IReadOnlyDictionary<string, string> Metadata, DateTimeOffset? ForgetAt,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] ScoreDto? Score,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] DateTimeOffset? SupersededAt = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? SupersededBy = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<ArchiveInterval>? History = null)
{
    public static ArchiveItemDto From(ArchiveItem item, Score? score = null) => new(
        item.Id, item.Content, item.Type.ToName(), item.Importance, item.CreatedAt, item.EnteredAt, item.LastAccessedAt, item.AccessCount,
        item.Metadata, item.ForgetAt, score is null ? null : new(Round(score.Total), Round(score.Relevance), Round(score.Decay), Round(score.AccessBonus)),
        item.SupersededAt, item.SupersededBy, item.Intervals is { Count: > 0 } history ? history : null);

    private static double Round(double d) => Math.Round(d, 6);
}

public sealed record PageDto<T>(
    IReadOnlyList<T> Items,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ContinuationToken);

/// <summary>A page of messages; with <c>sessionId</c>, the first page also carries that session's running summary.</summary>
public sealed record MessagePageDto(
    IReadOnlyList<ConversationMessage> Items,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ContinuationToken,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Summary);

/// <summary>A user of the admin listing: the id, and what the store can say cheaply (absent: not said).</summary>
public sealed record UserSummaryDto(
    string UserId,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? ArchiveItems,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] DateTimeOffset? LastActivity);

public sealed record CoreMemoryDto(IReadOnlyList<MemoryBlock> Blocks, [property: JsonPropertyName("etag")] string? ETag);

/// <summary>
/// The API's handlers. Each takes the ASP.NET Core request, so the self-host's endpoints and the
/// Azure Functions triggers call the very same code; each answers problem+json on bad input and
/// changes nothing then.
/// </summary>
public static partial class MemoryApi
{
    public static Task<IResult> Health(HttpRequest request, CancellationToken cancellationToken) =>
        Run(request, null, (services, _) =>
        {
            var engine = services.GetRequiredService<MemoryEngine>();
            var model = services.GetRequiredService<IOptions<ModelOptions>>().Value;
            var decay = engine.Decay;
            return Task.FromResult<IResult>(TypedResults.Ok(new HealthAnswer("ok", engine.Store.Name, model.IsConfigured ? "configured" : "none",
                new DecayAnswer(decay.Options.Threshold,
                    MemoryTypes.Names.ToDictionary(n => n, n => decay.RateOf(MemoryTypes.TryParse(n, out var t) ? t : MemoryType.Fact)),
                    decay.Options.AccessBonusPerAccess, decay.Options.AccessBonusMax))));
        });

    public static Task<IResult> Chat(HttpRequest request, string userId, CancellationToken cancellationToken) =>
        Run(request, userId, async (services, engine) =>
        {
            var agent = services.GetRequiredService<ChatAgent>();
            if (!agent.IsConfigured) throw new ModelNotConfiguredException(ChatAgent.NotConfigured);
            var body = await RequestBody.ReadObjectAsync(request, engine.Limits.RequestBodyBytes, cancellationToken, "message", "sessionId");
            var message = body.String("message", required: true)!;
            var sessionId = body.String("sessionId") ?? "default";
            CheckSession(sessionId);
            if (AcceptsEventStream(request)) return await StreamChat(request, agent, userId, sessionId, message, cancellationToken);
            var turn = await agent.RunAsync(userId, sessionId, message, cancellationToken);
            return TypedResults.Ok(ChatAnswer(turn));
        });

    public static Task<IResult> GetCoreMemory(HttpRequest request, string userId, CancellationToken cancellationToken) =>
        Run(request, userId, async (services, engine) =>
        {
            var core = await engine.GetCoreAsync(userId, cancellationToken);
            var etag = Quote(core.ETag ?? CoreMemory.NewETag);
            request.HttpContext.Response.Headers.ETag = etag;
            return TypedResults.Ok(new CoreMemoryDto(core.Blocks, etag));
        });

    public static Task<IResult> PutCoreBlock(HttpRequest request, string userId, string label, CancellationToken cancellationToken) =>
        Run(request, userId, async (services, engine) =>
        {
            CheckLabel(label);
            var body = await RequestBody.ReadObjectAsync(request, engine.Limits.RequestBodyBytes, cancellationToken, "value", "description", "limit", "readOnly");
            var value = body.String("value", required: true)!;
            var description = body.String("description");
            if (description is not null) Characters.AtMost(description, 1000, "description");
            var limit = body.Int("limit", 1, engine.Limits.MaxBlockLimit);
            var core = await engine.EditCoreAsync(userId, new SetBlock(label, value, description, limit, body.Bool("readOnly")),
                Preconditions.IfMatch(request, blockMustExist: false), cancellationToken);
            request.HttpContext.Response.Headers.ETag = Quote(core.ETag ?? CoreMemory.NewETag);
            return TypedResults.Ok(core.Find(label));
        });

    public static Task<IResult> DeleteCoreBlock(HttpRequest request, string userId, string label, CancellationToken cancellationToken) =>
        Run(request, userId, async (services, engine) =>
        {
            CheckLabel(label);
            await engine.EditCoreAsync(userId, new DeleteBlock(label), Preconditions.IfMatch(request, blockMustExist: true), cancellationToken);
            return TypedResults.NoContent();
        });

    public static Task<IResult> AddArchiveItem(HttpRequest request, string userId, CancellationToken cancellationToken) =>
        Run(request, userId, async (services, engine) =>
        {
            var body = await RequestBody.ReadObjectAsync(request, engine.Limits.RequestBodyBytes, cancellationToken,
                "content", "type", "importance", "createdAt", "metadata", "supersedes");
            var content = body.String("content", required: true)!;
            if (content.Trim().Length == 0) throw new MemoryValidationException("content", "'content' must not be empty.");
            Characters.AtMost(content, engine.Limits.ArchiveChars, "content");
            var typeName = body.String("type");
            if (!MemoryTypes.TryParse(typeName, out var type) && typeName is not null)
                throw new MemoryValidationException("type", $"'type' must be one of {string.Join(", ", MemoryTypes.Names)}.");
            var importance = body.Number("importance", 0, 1) ?? 0.5;
            var createdAt = CreatedAt(body, engine.Time.GetUtcNow());
            var metadata = Metadata(body, engine.Limits);
            var supersedes = Supersedes(body);

            var (item, created) = await engine.AddArchiveAsync(userId, new NewMemory(content, type, importance, createdAt, metadata), supersedes, cancellationToken);
            var dto = ArchiveItemDto.From(item);
            return created
                ? TypedResults.Created($"/api/users/{Uri.EscapeDataString(userId)}/memory/archive/{item.Id}", dto)
                : TypedResults.Ok(dto);
        });

    public static Task<IResult> SearchArchive(HttpRequest request, string userId, CancellationToken cancellationToken) =>
        Run(request, userId, async (services, engine) =>
        {
            var query = request.Query["query"].ToString();
            if (request.Query.ContainsKey("query"))
            {
                NotWith(request, "query", "limit", "continuationToken");
                if (string.IsNullOrWhiteSpace(query)) throw new MemoryValidationException("query", "'query' must not be empty.");
                Characters.AtMost(query, 1000, "query");
                var top = QueryInt(request, "top", 1, engine.Limits.MaxTop) ?? 5;
                var history = request.Query["history"].ToString() is var h && h.Length > 0
                    ? (bool.TryParse(h, out var b) ? b : throw new MemoryValidationException("history", "'history' must be true or false."))
                    : false;
                var found = await engine.SearchAsync(userId, query, top, history, cancellationToken);
                var items = found.Items.Select(s => ArchiveItemDto.From(s.Item, s.Score)).ToList();
                // Degraded, not down: without the embedding model the answer is lexical, and says so.
                return found.Degraded
                    ? TypedResults.Ok(new { items, mode = "lexical", warning = "The embedding model is unavailable: results are lexical only." })
                    : TypedResults.Ok(new PageDto<ArchiveItemDto>(items, null));
            }
            NotWithout(request, "query", "top");
            var limit = QueryInt(request, "limit", 1, engine.Limits.MaxPageSize) ?? 20;
            var page = await engine.ListArchiveAsync(userId, limit, Token(request), cancellationToken);
            return TypedResults.Ok(new PageDto<ArchiveItemDto>([.. page.Items.Select(i => ArchiveItemDto.From(i))], page.ContinuationToken));
        });

    public static Task<IResult> GetArchiveItem(HttpRequest request, string userId, string id, CancellationToken cancellationToken) =>
        Run(request, userId, async (services, engine) =>
            await engine.GetArchiveItemAsync(userId, CheckArchiveId(id), cancellationToken) is { } item
                ? TypedResults.Ok(ArchiveItemDto.From(item))
                : NotFound($"There is no archive memory '{id}'."));

    public static Task<IResult> DeleteArchiveItem(HttpRequest request, string userId, string id, CancellationToken cancellationToken) =>
        Run(request, userId, async (services, engine) =>
            await engine.DeleteArchiveAsync(userId, CheckArchiveId(id), cancellationToken)
                ? TypedResults.NoContent()
                : NotFound($"There is no archive memory '{id}'."));

    public static Task<IResult> ListMessages(HttpRequest request, string userId, CancellationToken cancellationToken) =>
        Run(request, userId, async (services, engine) =>
        {
            var sessionId = request.Query.ContainsKey("sessionId") ? request.Query["sessionId"].ToString() : null;
            if (sessionId is not null) CheckSession(sessionId);
            var limit = QueryInt(request, "limit", 1, engine.Limits.MaxPageSize) ?? 50;
            var token = Token(request);
            var page = await engine.Store.ListMessagesAsync(userId, sessionId, limit, token, cancellationToken);
            // One session's first page also says its running summary (what left the prompt window): one point read.
            var summary = sessionId is not null && token is null
                ? (await engine.Store.GetSessionAsync(userId, sessionId, cancellationToken))?.Summary is { Length: > 0 } s ? s : null
                : null;
            return TypedResults.Ok(new MessagePageDto(page.Items, page.ContinuationToken, summary));
        });

    public static Task<IResult> DeleteUser(HttpRequest request, string userId, CancellationToken cancellationToken) =>
        Run(request, userId, async (services, engine) =>
        {
            await engine.Store.DeleteUserAsync(userId, cancellationToken);
            return TypedResults.NoContent();
        });

    public static Task<IResult> ListTools(HttpRequest request, CancellationToken cancellationToken) =>
        Run(request, null, (_, engine) => Task.FromResult<IResult>(TypedResults.Ok(new ToolListAnswer(
            [.. engine.Tools.Select(d => new ToolDefinitionDto("function", new ToolFunctionDto(d.Name, d.Description, JsonObject.Create(d.Parameters)!)))]))));

    public static Task<IResult> InvokeTool(HttpRequest request, string userId, string name, CancellationToken cancellationToken) =>
        Run(request, userId, async (services, engine) =>
        {
            if (!MemoryTools.Exists(name)) return NotFound($"There is no memory tool '{name}'.");
            var arguments = await RequestBody.ReadObjectAsync(request, engine.Limits.RequestBodyBytes, cancellationToken);
            var result = await MemoryTools.InvokeAndCommitAsync(engine, userId, name, arguments, cancellationToken);
            return TypedResults.Ok(new JsonObject { ["result"] = result });
        });

    public static Task<IResult> ListUsers(HttpRequest request, CancellationToken cancellationToken) =>
        Run(request, null, async (services, engine) =>
        {
            var prefix = request.Query["prefix"].ToString();
            if (prefix.Length > 0 && !UserIdPattern().IsMatch(prefix))
                throw new MemoryValidationException("prefix", "A prefix is up to 128 characters of A-Z a-z 0-9 - _ . @ :");
            var limit = QueryInt(request, "limit", 1, engine.Limits.MaxPageSize) ?? 20;
            var page = await engine.Store.ListUsersAsync(prefix, limit, Token(request), cancellationToken);
            return TypedResults.Ok(new PageDto<UserSummaryDto>([.. page.Items.Select(u => new UserSummaryDto(u.UserId, u.ArchiveItems, u.LastActivity))], page.ContinuationToken));
        });

    public static Task<IResult> RunDecaySweep(HttpRequest request, CancellationToken cancellationToken) =>
        Run(request, null, async (services, engine) =>
        {
            var result = await engine.SweepAsync(cancellationToken);
            return TypedResults.Ok(new SweepAnswer(result.Scanned, result.Forgotten, result.Users, result.DurationMs));
        });

    /// <summary>Runs a handler after the checks every route makes; what it throws becomes problem+json by the one table, <see cref="Problems"/>.</summary>
    private static async Task<IResult> Run(HttpRequest request, string? userId, Func<IServiceProvider, MemoryEngine, Task<IResult>> handle)
    {
        var services = request.HttpContext.RequestServices;
        try
        {
            if (userId is not null && !UserIdPattern().IsMatch(userId))
                throw new MemoryValidationException("userId", "A user id is 1 to 128 characters of A-Z a-z 0-9 - _ . @ :");
            if (userId is not null && services.GetRequiredService<IOptions<AuthOptions>>().Value.RequireUserPrincipal
                && request.Headers["X-MS-CLIENT-PRINCIPAL-ID"].ToString() != userId)
                return TypedResults.Problem(statusCode: 403, title: "This user's memory belongs to another caller.",
                    detail: "With Auth:RequireUserPrincipal on, {userId} must be the authenticated principal's id.");
            return await handle(services, services.GetRequiredService<MemoryEngine>());
        }
        catch (Exception e)
        {
            return Problems.For(e, request).ToResult(request.HttpContext);
        }
    }

    private static IResult NotFound(string detail) =>
        TypedResults.Problem(statusCode: 404, title: "Not found.", detail: detail);

    private static void CheckLabel(string label)
    {
        if (!CoreMemory.IsValidLabel(label))
            throw new MemoryValidationException("label", "A block label is 1 to 64 characters: a lowercase letter, then lowercase letters, digits, '_' or '-'.");
    }

    /// <summary>Archive ids are 32 lowercase hex characters (a content hash); anything else is no id.</summary>
    private static string CheckArchiveId(string id) => ArchiveIdPattern().IsMatch(id) ? id
        : throw new MemoryValidationException("id", "An archive id is 32 characters of 0-9 a-f.");

    /// <summary>A parameter that only applies without <paramref name="with"/> is a 400 when both are sent.</summary>
    private static void NotWith(HttpRequest request, string with, params string[] names)
    {
        foreach (var name in names)
            if (request.Query.ContainsKey(name))
                throw new MemoryValidationException(name, $"'{name}' does not apply with '{with}': a search answers its best 'top' at once, unpaged.");
    }

    private static void NotWithout(HttpRequest request, string without, params string[] names)
    {
        foreach (var name in names)
            if (request.Query.ContainsKey(name))
                throw new MemoryValidationException(name, $"'{name}' applies only with '{without}'; a listing pages with 'limit' and 'continuationToken'.");
    }

    internal static void CheckSession(string sessionId)
    {
        if (!UserIdPattern().IsMatch(sessionId))
            throw new MemoryValidationException("sessionId", "A session id is 1 to 128 characters of A-Z a-z 0-9 - _ . @ :");
    }

    private static int? QueryInt(HttpRequest request, string name, int min, int max)
    {
        if (!request.Query.TryGetValue(name, out var raw)) return null;
        return int.TryParse(raw, out var value) && value >= min && value <= max ? value
            : throw new MemoryValidationException(name, $"'{name}' must be an integer from {min} to {max}.");
    }

    private static string? Token(HttpRequest request) =>
        request.Query.TryGetValue("continuationToken", out var token) && token.Count > 0 ? token.ToString() : null;

    private static DateTimeOffset? CreatedAt(JsonElement body, DateTimeOffset now)
    {
        if (body.String("createdAt") is not { } raw) return null;
        if (!DateTimeOffset.TryParse(raw, System.Globalization.CultureInfo.InvariantCulture,
                System.Globalization.DateTimeStyles.AssumeUniversal, out var createdAt))
            throw new MemoryValidationException("createdAt", "'createdAt' must be an ISO-8601 time.");
        return createdAt > now.AddMinutes(1)
            ? throw new MemoryValidationException("createdAt", "'createdAt' must not be in the future.")
            : createdAt.ToUniversalTime();
    }

    /// <summary>The most archive ids one add may supersede.</summary>
    public const int MaxSupersedes = 20;

    /// <summary>The archive ids an add replaces: distinct, each an archive id.</summary>
    private static IReadOnlyCollection<string> Supersedes(JsonElement body)
    {
        if (!body.TryGetProperty("supersedes", out var ids) || ids.ValueKind == JsonValueKind.Null) return [];
        if (ids.ValueKind != JsonValueKind.Array || ids.GetArrayLength() > MaxSupersedes
            || ids.EnumerateArray().Any(i => i.ValueKind != JsonValueKind.String || !ArchiveIdPattern().IsMatch(i.GetString()!)))
            throw new MemoryValidationException("supersedes", $"'supersedes' is an array of at most {MaxSupersedes} archive ids (32 characters of 0-9 a-f).");
        return [.. ids.EnumerateArray().Select(i => i.GetString()!).Distinct(StringComparer.Ordinal)];
    }

    private static Dictionary<string, string>? Metadata(JsonElement body, MemoryLimits limits)
    {
        if (!body.TryGetProperty("metadata", out var metadata) || metadata.ValueKind == JsonValueKind.Null) return null;
        if (metadata.ValueKind != JsonValueKind.Object)
            throw new MemoryValidationException("metadata", "'metadata' must be a flat object of strings.");
        var result = new Dictionary<string, string>();
        foreach (var p in metadata.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.String)
                throw new MemoryValidationException("metadata", $"'metadata.{p.Name}' must be a string.");
            if (p.Name.Length == 0 || !Characters.Fit(p.Name, 64) || !Characters.Fit(p.Value.GetString()!, limits.MetadataChars))
                throw new MemoryValidationException("metadata", $"'metadata' keys are 1 to 64 characters and values at most {limits.MetadataChars}.");
            result[p.Name] = p.Value.GetString()!;
        }
        return result.Count > limits.MetadataEntries
            ? throw new MemoryValidationException("metadata", $"'metadata' has at most {limits.MetadataEntries} entries.")
            : result;
    }

    private static string? Quote(string? etag) => etag is null ? null : $"\"{etag}\"";

    // \z, not $: '$' also matches before a final newline ("alice\n" would be another user).
    [GeneratedRegex(@"^[A-Za-z0-9_.@:-]{1,128}\z")]
    private static partial Regex UserIdPattern();

    [GeneratedRegex(@"^[0-9a-f]{32}\z")]
    private static partial Regex ArchiveIdPattern();
}
