using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;
using Microsoft.Azure.Cosmos;
using ServerlessMemory.Cosmos;

namespace ServerlessMemory.Tests.Cosmos;

/// <summary>
/// The npm package <c>@vercel/cosmosdb-server</c>, installed by <c>npm ci --prefix .ci/cosmos</c>
/// (the test project's build runs it when it is missing), started by <c>.ci/cosmos/server.js</c> on a
/// free loopback port over HTTPS with its self-signed certificate. The store runs against it whole:
/// point operations as they are; queries with the SDK's optimistic direct execution, switched on
/// here only (<see cref="CosmosMemoryStore.OptimisticDirectExecution"/>); transactional batches
/// through <see cref="BatchWireFormat"/>, which this client's request handler applies; and
/// <c>VectorDistance</c>, which server.js computes exactly.
/// </summary>
public sealed partial class LocalCosmosServer : IAsyncLifetime
{
    private Process? _node;
    private CosmosClient? _client;

    public static string CiDirectory { get; } = FindCiDirectory();

    public static string ServerScript => Path.Combine(CiDirectory, "server.js");

    /// <summary>Why the local server cannot run here, or null when it can.</summary>
    public static string? Unavailable { get; } =
        Directory.Exists(Path.Combine(CiDirectory, "node_modules", "@vercel", "cosmosdb-server"))
            ? null
            : "The local Cosmos DB server is not installed: run `npm ci --prefix .ci/cosmos` (needs node 20+).";

    /// <summary>Every request the SDK sent (with its operations: a batch's count, else 1), for tests that check what went over the wire.</summary>
    public ConcurrentQueue<(string Method, string Path, bool IsBatch, int Operations)> Requests { get; } = new();

    public CosmosStoreOptions Options { get; } = new()
    {
        Key = CosmosStoreOptions.EmulatorKey,
        Database = "serverless-memory-local",
        Container = "memory",
        CreateIfNotExists = true,
        EmbeddingDimensions = 3,
        AllowInsecureEmulatorCertificate = true,
        ApplicationName = "ServerlessMemory.Tests",
    };

    public CosmosClient Client => _client ?? throw new InvalidOperationException(Unavailable ?? "The local Cosmos DB server did not start.");

    public CosmosMemoryStore Store { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        if (Unavailable is not null) return;
        _node = Process.Start(new ProcessStartInfo("node", [ServerScript, "0"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = CiDirectory,
        }) ?? throw new InvalidOperationException("node did not start.");
        _node.ErrorDataReceived += (_, _) => { };
        _node.BeginErrorReadLine();

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        string? port = null;
        while (port is null)
        {
            var line = await _node.StandardOutput.ReadLineAsync(timeout.Token)
                ?? throw new InvalidOperationException($"The local Cosmos DB server exited with {(_node.HasExited ? _node.ExitCode : -1)} before it was ready.");
            if (ReadyLine().Match(line) is { Success: true } ready) port = ready.Groups[1].Value;
        }

        Options.Endpoint = $"https://127.0.0.1:{port}/";
        _client = CosmosClients.Create(Options, options =>
        {
            // The certificate is accepted by the handler the SDK is given, not by its callback.
            options.ServerCertificateCustomValidationCallback = null;
            options.HttpClientFactory = () => new HttpClient(new HttpClientHandler
            {
                ServerCertificateCustomValidationCallback = HttpClientHandler.DangerousAcceptAnyServerCertificateValidator,
            });
            options.CustomHandlers.Add(new RecordingHandler(Requests));
        });
        Store = new CosmosMemoryStore(_client, Options) { OptimisticDirectExecution = true };
        await Store.ContainerAsync();
    }

    public async Task DisposeAsync()
    {
        _client?.Dispose();
        if (_node is null) return;
        try
        {
            _node.StandardInput.Close(); // the server exits when its input closes
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _node.WaitForExitAsync(wait.Token);
        }
        catch (OperationCanceledException)
        {
            _node.Kill();
        }
        finally
        {
            _node.Dispose();
        }
    }

    private static string FindCiDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var ci = Path.Combine(dir.FullName, ".ci", "cosmos");
            if (File.Exists(Path.Combine(ci, "package.json"))) return ci;
        }
        return Path.Combine(AppContext.BaseDirectory, ".ci", "cosmos");
    }

    [GeneratedRegex(@"Ready to accept HTTPS connections at 127\.0\.0\.1:(\d+)")]
    private static partial Regex ReadyLine();

    /// <summary>Records every request, and carries batches in the JSON form the local server reads.</summary>
    private sealed class RecordingHandler(ConcurrentQueue<(string, string, bool, int)> requests) : RequestHandler
    {
        public override async Task<ResponseMessage> SendAsync(RequestMessage request, CancellationToken cancellationToken)
        {
            var isBatch = request.Headers.TryGetValue("x-ms-cosmos-is-batch-request", out var batch) &&
                          string.Equals(batch, "True", StringComparison.OrdinalIgnoreCase);
            if (!isBatch)
            {
                requests.Enqueue((request.Method.Method, request.RequestUri?.OriginalString ?? "", false, 1));
                return await base.SendAsync(request, cancellationToken);
            }

            var operations = await BatchWireFormat.ReadRequestAsync(request.Content);
            requests.Enqueue((request.Method.Method, request.RequestUri?.OriginalString ?? "", true, operations.Count));
            request.Content = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(operations.ToJsonString()));
            var response = await base.SendAsync(request, cancellationToken);
            // A successful batch's JSON answer is the content; a failed one's reaches this handler only
            // inside the error message (the gateway client reads an error body that is not HybridRow
            // into the exception's text: "... Reason: ([...]);").
            string text;
            if (response.Content is not null)
            {
                using var reader = new StreamReader(response.Content);
                text = await reader.ReadToEndAsync(cancellationToken);
            }
            else
            {
                var message = response.ErrorMessage ?? "";
                var (start, end) = (message.IndexOf('[', StringComparison.Ordinal), message.LastIndexOf(']'));
                text = start >= 0 && end > start ? message[start..(end + 1)] : "";
            }
            if (text.Length == 0 || System.Text.Json.Nodes.JsonNode.Parse(text) is not System.Text.Json.Nodes.JsonArray results) return response;
            var answer = new ResponseMessage(response.StatusCode, request) { Content = await BatchWireFormat.WriteResponseAsync(results) };
            foreach (var name in response.Headers.AllKeys()) answer.Headers[name] = response.Headers[name];
            return answer;
        }
    }
}

/// <summary>A fact that needs the local Cosmos DB server, skipped with the way to install it when it is not there.</summary>
public sealed class LocalCosmosFactAttribute : FactAttribute
{
    public LocalCosmosFactAttribute()
    {
        if (LocalCosmosServer.Unavailable is { } reason) Skip = reason;
    }
}

[CollectionDefinition(Name)]
public sealed class LocalCosmosCollection : ICollectionFixture<LocalCosmosServer>
{
    public const string Name = "local cosmos server";
}
