using System.Text.Json.Nodes;
using ServerlessMemory.Core;
using ServerlessMemory.Tests.Functions;
using static ServerlessMemory.Tests.Api.HttpAssert;

namespace ServerlessMemory.Tests.Api;

/// <summary>
/// A user with something of everything the export holds, written through the API (and a superseded
/// memory and a session summary written into the document, which no route writes directly), and
/// how two exports are compared: without the fields docs/api.md lists as volatile.
/// </summary>
internal static class ImportScenario
{
    public static readonly Lazy<JsonObject> Schema = new(() => JsonNode.Parse(File.ReadAllText(Path.Combine(RepoRoot.Path, "docs", "export.schema.json")))!.AsObject());

    /// <summary>Writes the user through the API (no model needed) and returns their export, with a supersession and a session summary added to it.</summary>
    public static async Task<JsonObject> SeedAsync(HttpClient http, Microsoft.Extensions.Time.Testing.FakeTimeProvider time, string user)
    {
        await Ok(await http.PutAsync($"/api/users/{user}/memory/core/human", Json("""{"value":"小明, a data scientist"}""")));
        await Ok(await http.PostAsync($"/api/users/{user}/tools/update_core_memory", Json("""{"field":"preferences","value":"concise answers"}""")));
        await Ok(await http.PostAsync($"/api/users/{user}/memory/archive",
            Json("""{"content":"I adopted a cat named Miso","type":"fact","importance":0.6,"createdAt":"2025-06-01T10:00:00Z","metadata":{"subject":"pets"}}""")), 201);
        time.Advance(TimeSpan.FromMinutes(5));
        await Ok(await http.PostAsync($"/api/users/{user}/memory/archive", Json("""{"content":"用户名叫小明","type":"identity","importance":1}""")), 201);
        await Ok(await http.PostAsync($"/api/users/{user}/memory/archive", Json("""{"content":"works on churn prediction with XGBoost","type":"fact","importance":0.7}""")), 201);
        await Ok(await http.PostAsync($"/api/users/{user}/memory/archive", Json("""{"content":"prefers Python","type":"preference","importance":0.8}""")), 201);
        time.Advance(TimeSpan.FromMinutes(5));
        await Ok(await http.GetAsync($"/api/users/{user}/memory/archive?query=Miso"));
        await Ok(await http.GetAsync($"/api/users/{user}/memory/archive?query=Miso"));
        time.Advance(TimeSpan.FromMinutes(1));
        var document = await ExportAsync(http, user);

        // What no route writes directly: a memory superseded by another, and a session with messages and a summary.
        var archive = document["archive"]!.AsArray();
        var python = archive.Single(i => (string?)i!["content"] == "prefers Python")!;
        var churn = archive.Single(i => (string?)i!["content"] == "works on churn prediction with XGBoost")!;
        python["supersededAt"] = UtcTime.ToText(time.GetUtcNow().AddMinutes(-1));
        python["supersededBy"] = (string?)churn["id"];
        // Its history: an earlier period, before it was stated again, and the one that ends now.
        python["history"] = new JsonArray(
            new JsonObject { ["from"] = "2025-01-01T00:00:00.000Z", ["to"] = "2025-02-01T00:00:00.000Z", ["supersededBy"] = null },
            new JsonObject { ["from"] = (string?)python["createdAt"], ["to"] = (string?)python["supersededAt"], ["supersededBy"] = (string?)churn["id"] });
        var at = time.GetUtcNow().AddMinutes(-3);
        document["messages"] = new JsonArray(
            Message("0193a1b2c3d4e5f60718293a4b5c6d04", "s1", "t2", "assistant", "You said churn prediction.", at.AddSeconds(2)),
            Message("0193a1b2c3d4e5f60718293a4b5c6d03", "s1", "t2", "user", "What project did I mention?", at.AddSeconds(2)),
            Message("0193a1b2c3d4e5f60718293a4b5c6d02", "s1", "t1", "assistant", "Noted.", at),
            Message("0193a1b2c3d4e5f60718293a4b5c6d01", "s1", "t1", "user", "I'm working on churn prediction.", at),
            Message("0193a1b2c3d4e5f60718293a4b5c6d00", "s2", "t0", "user", "hello", at.AddSeconds(-30)));
        document["sessions"] = new JsonArray(new JsonObject
        {
            ["sessionId"] = "s1", ["summary"] = "The user introduced their churn project.", ["summarizedThrough"] = UtcTime.ToText(at),
        });
        Assert.Empty(SchemaCheck.Errors(Schema.Value, document));
        return document;
    }

    private static JsonObject Message(string id, string session, string turn, string role, string content, DateTimeOffset at) => new()
    {
        ["id"] = id, ["sessionId"] = session, ["turnId"] = turn, ["role"] = role, ["content"] = content, ["createdAt"] = UtcTime.ToText(at),
    };

    public static async Task<JsonObject> ExportAsync(HttpClient http, string user, bool vectors = false) =>
        await Ok(await http.GetAsync($"/api/users/{user}/export{(vectors ? "?vectors=true" : "")}"));

    public static Task<HttpResponseMessage> ImportAsync(HttpClient http, string user, JsonObject document, string query = "") =>
        ImportAsync(http, user, document.ToJsonString(), query);

    public static Task<HttpResponseMessage> ImportAsync(HttpClient http, string user, string document, string query = "") =>
        http.PostAsync($"/api/users/{user}/import{(query.Length > 0 ? "?" + query : "")}", Json(document));

    /// <summary>
    /// The document without its volatile fields (docs/api.md, "Import"): when and from which store it was
    /// exported, whose it is (when imported into another user), and the order of memories of the same createdAt.
    /// </summary>
    public static JsonObject Stable(JsonObject document)
    {
        var copy = document.DeepClone().AsObject();
        copy.Remove("exportedAt");
        copy.Remove("store");
        copy.Remove("userId");
        var archive = copy["archive"]!.AsArray().Select(i => i!.DeepClone()).OrderByDescending(i => (string?)i["createdAt"], StringComparer.Ordinal)
            .ThenBy(i => (string?)i["id"], StringComparer.Ordinal).ToList();
        copy["archive"] = new JsonArray([.. archive]);
        return copy;
    }

    public static void AssertSame(JsonObject expected, JsonObject actual)
    {
        var (e, a) = (Stable(expected), Stable(actual));
        Assert.True(JsonNode.DeepEquals(e, a), $"Expected\n{e}\nbut got\n{a}");
    }

    public static ImportTallyJson Tally(JsonObject report, string section) => new(
        (int)report[section]!["added"]!, (int)report[section]!["updated"]!, (int)report[section]!["skipped"]!,
        (int)report[section]!["conflicts"]!, (int)report[section]!["forgotten"]!);
}

internal sealed record ImportTallyJson(int Added, int Updated, int Skipped, int Conflicts, int Forgotten);

/// <summary>The real store, whose commits fail (the store unavailable) once <see cref="Switch.FailCommitsAfter"/> more have gone through.</summary>
internal sealed class FailingStore(IMemoryStore inner, FailingStore.Switch control) : DelegatingMemoryStore(inner)
{
    public sealed class Switch
    {
        private int? _left;

        /// <summary>Commits still let through; null: all.</summary>
        public int? FailCommitsAfter { get => _left; set => _left = value; }

        public bool Fails()
        {
            lock (this)
            {
                if (_left is null) return false;
                if (_left == 0) return true;
                _left--;
                return false;
            }
        }
    }

    /// <summary>Wraps the store the service registered.</summary>
    public static void Decorate(Microsoft.Extensions.DependencyInjection.IServiceCollection services, Switch control)
    {
        var real = services.Last(d => d.ServiceType == typeof(IMemoryStore));
        services.Add(Microsoft.Extensions.DependencyInjection.ServiceDescriptor.Singleton<IMemoryStore>(sp =>
            new FailingStore(real.ImplementationInstance as IMemoryStore ?? (IMemoryStore)real.ImplementationFactory!(sp), control)));
    }

    public override Task<CommitResult> CommitAsync(string userId, MemoryChangeSet changes, CancellationToken cancellationToken = default) =>
        control.Fails()
            ? throw new StoreUnavailableException("The test store is down.", TimeSpan.FromSeconds(1))
            : base.CommitAsync(userId, changes, cancellationToken);
}
