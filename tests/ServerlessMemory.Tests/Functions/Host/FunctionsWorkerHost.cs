using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Template;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ServerlessMemory.Tests.Functions.Host.Rpc;

namespace ServerlessMemory.Tests.Functions.Host;

/// <summary>What the host is told: the built app, its settings, and the keys the host checks.</summary>
public sealed record FunctionsWorkerHostOptions
{
    /// <summary>The folder the Functions app was built to (its <c>ServerlessMemory.Functions.dll</c>, <c>functions.metadata</c>, <c>host.json</c>).</summary>
    public required string AppDirectory { get; init; }

    public string AssemblyName { get; init; } = "ServerlessMemory.Functions.dll";

    /// <summary>App settings, given to the worker as environment variables (<c>Memory__Store</c>, ...), as the Functions host does.</summary>
    public IReadOnlyDictionary<string, string?> Settings { get; init; } = new Dictionary<string, string?>();

    /// <summary>
    /// The function key for <c>AuthorizationLevel.Function</c> routes; none means the host checks no key
    /// (as Core Tools does locally). The master key opens every route, and only it opens <c>Admin</c> routes.
    /// </summary>
    public string? FunctionKey { get; init; }

    public string? MasterKey { get; init; }

    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(90);

    public TimeSpan InvocationTimeout { get; init; } = TimeSpan.FromSeconds(60);
}

/// <summary>The outcome of one invocation, as the worker's <c>InvocationResponse</c> gives it.</summary>
public sealed record InvocationOutcome(string InvocationId, bool Succeeded, string? ExceptionType, string? ExceptionMessage, string? StackTrace);

/// <summary>
/// A stand-in for the Azure Functions host, on the host's side of the worker protocol: it starts the
/// built Functions app as a worker process with the host's arguments, serves the <c>FunctionRpc</c>
/// gRPC service the worker connects to, runs the handshake (<c>StartStream</c>, <c>WorkerInitRequest</c>,
/// <c>FunctionsMetadataRequest</c>, one <c>FunctionLoadRequest</c> per function), then serves HTTP: each
/// request is matched to an HTTP-triggered function by its route, its key checked against the
/// function's <c>authLevel</c>, forwarded to the worker's own ASP.NET Core server (the <c>HttpUri</c> the
/// worker announced) with the <c>x-ms-invocation-id</c> header, and the <c>InvocationRequest</c> of that
/// id sent beside it. Other triggers are invoked with <see cref="InvokeAsync"/> (see <see cref="InvokeTimerAsync"/>).
/// </summary>
public sealed class FunctionsWorkerHost : IAsyncDisposable
{
    private const string InvocationIdHeader = "x-ms-invocation-id";
    private static readonly HashSet<string> HopByHop = new(StringComparer.OrdinalIgnoreCase)
        { "Connection", "Keep-Alive", "Transfer-Encoding", "Upgrade", "Proxy-Connection", "TE", "Trailer", "Host" };

    private readonly FunctionsWorkerHostOptions _options;
    private readonly WorkerChannel _channel = new(Guid.NewGuid().ToString());
    private readonly HttpClient _toWorker = new(new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false, UseProxy = false })
        { Timeout = Timeout.InfiniteTimeSpan };
    private readonly List<LoadedFunction> _functions = [];
    private WebApplication? _rpcServer;
    private WebApplication? _frontDoor;
    private Process? _worker;
    private Uri? _workerHttpUri;
    private string _routePrefix = "api";

    private FunctionsWorkerHost(FunctionsWorkerHostOptions options) => _options = options;

    /// <summary>Where the host serves HTTP, as <c>http://127.0.0.1:port/</c>.</summary>
    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>The functions the worker indexed and loaded, by name.</summary>
    public IReadOnlyList<string> FunctionNames => [.. _functions.Select(f => f.Name)];

    /// <summary>The worker's capabilities, from its <c>WorkerInitResponse</c>.</summary>
    public IReadOnlyDictionary<string, string> WorkerCapabilities { get; private set; } = new Dictionary<string, string>();

    /// <summary>The worker's logs (sent as <c>RpcLog</c>), its console output, and the host's own notes: for failure messages.</summary>
    public string Logs => string.Join(Environment.NewLine, _channel.Logs);

    public static async Task<FunctionsWorkerHost> StartAsync(FunctionsWorkerHostOptions options, CancellationToken cancellationToken = default)
    {
        var host = new FunctionsWorkerHost(options);
        try
        {
            await host.StartCoreAsync(cancellationToken);
            return host;
        }
        catch (Exception e)
        {
            var logs = host.Logs;
            await host.DisposeAsync();
            throw new InvalidOperationException($"The Functions worker did not start: {e.Message}{Environment.NewLine}{logs}", e);
        }
    }

    /// <summary>A client of the host's HTTP front door, with <c>x-functions-key</c> when a key is given.</summary>
    public HttpClient CreateClient(string? key = null)
    {
        var client = new HttpClient { BaseAddress = BaseAddress };
        if (key is not null) client.DefaultRequestHeaders.Add("x-functions-key", key);
        return client;
    }

    /// <summary>
    /// Invokes a timer-triggered function as the host's scheduler would: its trigger parameter gets a
    /// <c>TimerInfo</c> as JSON (<c>ScheduleStatus</c> with last and next occurrence, <c>IsPastDue</c>).
    /// </summary>
    public Task<InvocationOutcome> InvokeTimerAsync(string functionName, bool isPastDue = false, CancellationToken cancellationToken = default)
    {
        var function = Function(functionName);
        var trigger = function.Trigger("timerTrigger");
        var now = DateTime.UtcNow;
        var timerInfo = new JsonObject
        {
            ["Schedule"] = new JsonObject { ["AdjustForDST"] = true },
            ["ScheduleStatus"] = new JsonObject { ["Last"] = now.AddHours(-1), ["Next"] = now.AddHours(1), ["LastUpdated"] = now.AddHours(-1) },
            ["IsPastDue"] = isPastDue,
        };
        return InvokeAsync(functionName, [new ParameterBinding { Name = trigger.Name, Data = new TypedData { Json = timerInfo.ToJsonString() } }],
            new Dictionary<string, TypedData>(), cancellationToken);
    }

    /// <summary>Sends one <c>InvocationRequest</c> and waits for its response.</summary>
    public async Task<InvocationOutcome> InvokeAsync(string functionName, IEnumerable<ParameterBinding> inputs,
        IReadOnlyDictionary<string, TypedData> triggerMetadata, CancellationToken cancellationToken = default)
    {
        var function = Function(functionName);
        return await SendInvocationAsync(function, Guid.NewGuid().ToString(), inputs, triggerMetadata, cancellationToken);
    }

    private async Task<InvocationOutcome> SendInvocationAsync(LoadedFunction function, string invocationId, IEnumerable<ParameterBinding> inputs,
        IReadOnlyDictionary<string, TypedData> triggerMetadata, CancellationToken cancellationToken, string? traceParent = null)
    {
        var request = new InvocationRequest
        {
            InvocationId = invocationId,
            FunctionId = function.Id,
            TraceContext = new RpcTraceContext { TraceParent = traceParent ?? Activity.Current?.Id ?? "" },
        };
        request.InputData.AddRange(inputs);
        foreach (var (name, value) in triggerMetadata) request.TriggerMetadata[name] = value;
        var answer = await _channel.RequestAsync(new StreamingMessage { RequestId = Guid.NewGuid().ToString(), InvocationRequest = request },
            invocationId, _options.InvocationTimeout, cancellationToken);
        var result = answer.InvocationResponse.Result;
        return new(invocationId, result?.Status == StatusResult.Types.Status.Success, result?.Exception?.Type, result?.Exception?.Message, result?.Exception?.StackTrace);
    }

    private LoadedFunction Function(string name) =>
        _functions.SingleOrDefault(f => f.Name == name) ?? throw new ArgumentException($"The worker loaded no function '{name}'.", nameof(name));

    private async Task StartCoreAsync(CancellationToken cancellationToken)
    {
        var appDirectory = Path.GetFullPath(_options.AppDirectory);
        _routePrefix = RoutePrefix(appDirectory);

        // The FunctionRpc service the worker dials: HTTP/2 without TLS, as the host serves it on loopback.
        _rpcServer = NewServer(HttpProtocols.Http2, _channel);
        _rpcServer.MapGrpcService<FunctionRpcService>();
        await _rpcServer.StartAsync(cancellationToken);
        var rpcUri = new Uri(Address(_rpcServer));

        _worker = StartWorker(appDirectory, rpcUri);
        var exited = _worker.WaitForExitAsync(cancellationToken);
        var first = await Task.WhenAny(_channel.Started, exited).WaitAsync(_options.StartTimeout, cancellationToken);
        if (first != _channel.Started) throw new InvalidOperationException($"The worker exited with code {_worker.ExitCode} before opening its event stream.");

        // WorkerInitRequest: the worker answers with its capabilities, HttpUri among them.
        var initId = Guid.NewGuid().ToString();
        var init = new WorkerInitRequest { HostVersion = "4.0.0-servelessmemory-test-host", WorkerDirectory = appDirectory, FunctionAppDirectory = appDirectory };
        var initAnswer = (await _channel.RequestAsync(new StreamingMessage { RequestId = initId, WorkerInitRequest = init }, initId,
            _options.StartTimeout, cancellationToken)).WorkerInitResponse;
        EnsureSuccess(initAnswer.Result, "WorkerInitRequest");
        WorkerCapabilities = new Dictionary<string, string>(initAnswer.Capabilities);
        _workerHttpUri = WorkerCapabilities.TryGetValue("HttpUri", out var httpUri)
            ? new Uri(httpUri)
            : throw new InvalidOperationException("The worker announced no HttpUri capability: it does not use the ASP.NET Core integration.");

        // FunctionsMetadataRequest: the worker indexes its own functions (worker indexing).
        var metadataId = Guid.NewGuid().ToString();
        var metadata = (await _channel.RequestAsync(new StreamingMessage { RequestId = metadataId, FunctionsMetadataRequest = new() { FunctionAppDirectory = appDirectory } },
            metadataId, _options.StartTimeout, cancellationToken)).FunctionMetadataResponse;
        EnsureSuccess(metadata.Result, "FunctionsMetadataRequest");

        // FunctionLoadRequest for each, with the metadata the worker sent (unknown fields and all).
        foreach (var function in metadata.FunctionMetadataResults)
        {
            // The worker gives each function an id (a hash); the host would make one if it did not.
            if (string.IsNullOrEmpty(function.FunctionId)) function.FunctionId = Guid.NewGuid().ToString();
            var load = (await _channel.RequestAsync(new StreamingMessage
            {
                RequestId = Guid.NewGuid().ToString(),
                FunctionLoadRequest = new() { FunctionId = function.FunctionId, Metadata = function },
            }, function.FunctionId, _options.StartTimeout, cancellationToken)).FunctionLoadResponse;
            EnsureSuccess(load.Result, $"FunctionLoadRequest for {function.Name}");
            _functions.Add(LoadedFunction.From(function));
        }

        // The worker's Kestrel may still be starting: the real host retries its first proxied requests; here, wait for the port.
        await WaitForPortAsync(_workerHttpUri, cancellationToken);

        _frontDoor = NewServer(HttpProtocols.Http1AndHttp2, _channel);
        _frontDoor.Run(ServeHttpAsync);
        await _frontDoor.StartAsync(cancellationToken);
        BaseAddress = new Uri(Address(_frontDoor) + "/");
    }

    private Process StartWorker(string appDirectory, Uri rpcUri)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            WorkingDirectory = appDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var requestId = Guid.NewGuid().ToString();
        // The arguments the Functions host passes (RpcWorkerContext), the old names and the --functions-* ones the worker reads.
        foreach (var argument in (string[])[Path.Combine(appDirectory, _options.AssemblyName),
                     "--host", rpcUri.Host, "--port", rpcUri.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                     "--workerId", _channel.WorkerId, "--requestId", requestId, "--grpcMaxMessageLength", int.MaxValue.ToString(System.Globalization.CultureInfo.InvariantCulture),
                     "--functions-uri", rpcUri.AbsoluteUri, "--functions-worker-id", _channel.WorkerId, "--functions-request-id", requestId,
                     "--functions-grpc-max-message-length", int.MaxValue.ToString(System.Globalization.CultureInfo.InvariantCulture)])
            start.ArgumentList.Add(argument);

        // The test host's own variables are not the worker's business.
        foreach (var name in (string[])["ASPNETCORE_URLS", "ASPNETCORE_ENVIRONMENT", "DOTNET_ENVIRONMENT", "MSBuildSDKsPath", "MSBuildExtensionsPath", "MSBUILD_EXE_PATH"])
            start.Environment.Remove(name);
        start.Environment["FUNCTIONS_WORKER_RUNTIME"] = "dotnet-isolated";
        start.Environment["FUNCTIONS_APPLICATION_DIRECTORY"] = appDirectory;
        start.Environment["FUNCTIONS_WORKER_DIRECTORY"] = appDirectory;
        start.Environment["AZURE_FUNCTIONS_ENVIRONMENT"] = "Development";
        foreach (var (name, value) in _options.Settings) start.Environment[name] = value;

        var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) _channel.Logs.Enqueue("[worker stdout] " + e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) _channel.Logs.Enqueue("[worker stderr] " + e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>The HTTP front door: route, key, then the proxied request and its invocation, as the Functions host does.</summary>
    private async Task ServeHttpAsync(HttpContext context)
    {
        var match = Match(context.Request);
        if (match is null)
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }
        var (function, trigger, routeValues) = match.Value;
        if (!KeyAllows(trigger.AuthLevel, context.Request))
        {
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            return;
        }

        // The trace context of the host's own request span, which the invocation names as the worker's parent:
        // it continues the caller's W3C trace (traceparent, sampled or not), as the host's request activity does,
        // or starts a recorded one.
        var caller = ActivityContext.TryParse(context.Request.Headers["traceparent"], context.Request.Headers["tracestate"], out var parsed) ? parsed : default;
        var hostSpan = $"00-{(caller == default ? ActivityTraceId.CreateRandom() : caller.TraceId).ToHexString()}-{ActivitySpanId.CreateRandom().ToHexString()}-"
            + (caller == default || caller.TraceFlags.HasFlag(ActivityTraceFlags.Recorded) ? "01" : "00");

        var invocationId = Guid.NewGuid().ToString();
        using var forward = new HttpRequestMessage(new HttpMethod(context.Request.Method),
            new Uri(_workerHttpUri!, context.Request.Path.Value + context.Request.QueryString.Value));
        if (context.Request.ContentLength > 0 || context.Request.Headers.ContainsKey("Transfer-Encoding"))
            forward.Content = new StreamContent(context.Request.Body);
        foreach (var (name, values) in context.Request.Headers)
        {
            if (HopByHop.Contains(name)) continue;
            if (!forward.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values)) forward.Content?.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values);
        }
        // What the host's forwarder adds: the original address, for the worker's UseForwardedHeaders.
        forward.Headers.TryAddWithoutValidation("X-Forwarded-For", context.Connection.RemoteIpAddress?.ToString());
        forward.Headers.TryAddWithoutValidation("X-Forwarded-Proto", context.Request.Scheme);
        forward.Headers.TryAddWithoutValidation("X-Forwarded-Host", context.Request.Host.Value);
        forward.Headers.TryAddWithoutValidation(InvocationIdHeader, invocationId);

        // As the host: start forwarding first, then send the invocation; the worker pairs them by id.
        var forwarding = _toWorker.SendAsync(forward, HttpCompletionOption.ResponseHeadersRead, context.RequestAborted);
        var metadata = routeValues.ToDictionary(v => v.Key, v => new TypedData { String = (string)v.Value! });
        var invocation = SendInvocationAsync(function, invocationId,
            [new ParameterBinding { Name = trigger.Name, Data = new TypedData { Http = new RpcHttp() } }], metadata, CancellationToken.None, hostSpan);
        using var cancel = context.RequestAborted.Register(() =>
            _ = _channel.SendAsync(new StreamingMessage { InvocationCancel = new() { InvocationId = invocationId } }).AsTask());

        // The response goes back as it comes, as the host's forwarder (YARP's IHttpForwarder) copies it: each read
        // of the worker's body is written to the caller at once (Kestrel sends each write), nothing is buffered,
        // so a streamed answer (Server-Sent Events) reaches the caller while the function still runs.
        using var response = await forwarding;
        context.Response.StatusCode = (int)response.StatusCode;
        foreach (var (name, values) in response.Headers.Concat(response.Content.Headers))
            if (!HopByHop.Contains(name)) context.Response.Headers[name] = values.ToArray();
        await using (var body = await response.Content.ReadAsStreamAsync(context.RequestAborted))
            await body.CopyToAsync(context.Response.Body, context.RequestAborted);

        var outcome = await invocation;
        if (!outcome.Succeeded)
        {
            _channel.Logs.Enqueue($"[host] {function.Name} invocation {invocationId} failed: {outcome.ExceptionType}: {outcome.ExceptionMessage}{Environment.NewLine}{outcome.StackTrace}");
            // A failed invocation is a 500 from the host, unless the worker's response has already gone out.
            if (!context.Response.HasStarted)
            {
                context.Response.Clear();
                context.Response.StatusCode = StatusCodes.Status500InternalServerError;
            }
        }
    }

    private (LoadedFunction Function, TriggerBinding Trigger, RouteValueDictionary Values)? Match(HttpRequest request)
    {
        var path = request.Path.Value ?? "";
        var prefix = "/" + _routePrefix.Trim('/');
        if (!path.StartsWith(prefix + "/", StringComparison.OrdinalIgnoreCase)) return null;
        var rest = new PathString(path[prefix.Length..]);
        // Literal segments before parameters, as route precedence orders them.
        foreach (var (function, trigger) in _functions.Where(f => f.Http is not null).Select(f => (f, f.Http!))
                     .OrderBy(p => RoutePrecedence.ComputeInbound(p.Item2.Template)))
        {
            if (trigger.Methods.Count > 0 && !trigger.Methods.Contains(request.Method, StringComparer.OrdinalIgnoreCase)) continue;
            var values = new RouteValueDictionary();
            if (trigger.Matcher.TryMatch(rest, values))
                return (function, trigger, new RouteValueDictionary(values.Where(v => v.Value is not null)
                    .ToDictionary(v => v.Key, v => (object?)Convert.ToString(v.Value, System.Globalization.CultureInfo.InvariantCulture))));
        }
        return null;
    }

    private bool KeyAllows(string authLevel, HttpRequest request)
    {
        if (authLevel.Equals("Anonymous", StringComparison.OrdinalIgnoreCase)) return true;
        if (_options.FunctionKey is null && _options.MasterKey is null) return true;
        var presented = request.Headers["x-functions-key"].ToString() is { Length: > 0 } header ? header : request.Query["code"].ToString();
        return Same(presented, _options.MasterKey)
               || (authLevel.Equals("Function", StringComparison.OrdinalIgnoreCase) && Same(presented, _options.FunctionKey));

        static bool Same(string presented, string? key) => key is { Length: > 0 } && presented.Length > 0
            && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), Encoding.UTF8.GetBytes(key));
    }

    private static void EnsureSuccess(StatusResult? result, string what)
    {
        if (result?.Status != StatusResult.Types.Status.Success)
            throw new InvalidOperationException($"{what} failed: {result?.Exception?.Type}: {result?.Exception?.Message}{Environment.NewLine}{result?.Exception?.StackTrace}");
    }

    private static string RoutePrefix(string appDirectory)
    {
        var hostJson = Path.Combine(appDirectory, "host.json");
        if (!File.Exists(hostJson)) return "api";
        var node = JsonNode.Parse(File.ReadAllText(hostJson), documentOptions: new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        return (string?)node?["extensions"]?["http"]?["routePrefix"] ?? "api";
    }

    private static async Task WaitForPortAsync(Uri uri, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            try
            {
                using var tcp = new TcpClient();
                await tcp.ConnectAsync(uri.Host, uri.Port, cancellationToken);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100, cancellationToken);
            }
        }
    }

    private static WebApplication NewServer(HttpProtocols protocols, WorkerChannel channel)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.Protocols = protocols));
        builder.Services.AddSingleton(channel);
        builder.Services.AddGrpc(o => { o.MaxReceiveMessageSize = null; o.MaxSendMessageSize = null; });
        return builder.Build();
    }

    private static string Address(WebApplication app) =>
        app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();

    public async ValueTask DisposeAsync()
    {
        if (_worker is { HasExited: false })
        {
            // WorkerTerminate, as the host sends at shutdown: the worker stops its host and exits.
            await _channel.SendAsync(new StreamingMessage { WorkerTerminate = new() { GracePeriod = new() { Seconds = 5 } } });
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try { await _worker.WaitForExitAsync(wait.Token); _channel.Logs.Enqueue($"[host] worker exited with {_worker.ExitCode}"); }
            catch (OperationCanceledException) { _worker.Kill(entireProcessTree: true); await _worker.WaitForExitAsync(); }
        }
        _worker?.Dispose();
        if (_frontDoor is not null) await _frontDoor.DisposeAsync();
        if (_rpcServer is not null) await _rpcServer.DisposeAsync();
        _toWorker.Dispose();
    }

    private sealed record TriggerBinding(string Name, string Type, string AuthLevel, IReadOnlyList<string> Methods, RouteTemplate Template, TemplateMatcher Matcher);

    private sealed record LoadedFunction(string Name, string Id, IReadOnlyList<TriggerBinding> Triggers)
    {
        public TriggerBinding? Http => Triggers.SingleOrDefault(t => t.Type.Equals("httpTrigger", StringComparison.OrdinalIgnoreCase));

        public TriggerBinding Trigger(string type) => Triggers.SingleOrDefault(t => t.Type.Equals(type, StringComparison.OrdinalIgnoreCase))
            ?? throw new ArgumentException($"Function '{Name}' has no {type}.", nameof(type));

        /// <summary>Reads the trigger bindings from the metadata's raw bindings (JSON, as in functions.metadata).</summary>
        public static LoadedFunction From(RpcFunctionMetadata metadata)
        {
            var triggers = new List<TriggerBinding>();
            foreach (var raw in metadata.RawBindings)
            {
                var binding = JsonNode.Parse(raw)!.AsObject();
                var type = (string?)binding["type"] ?? "";
                if (!type.EndsWith("Trigger", StringComparison.OrdinalIgnoreCase)) continue;
                var route = (string?)binding["route"] ?? metadata.Name;
                var template = TemplateParser.Parse(route);
                triggers.Add(new((string?)binding["name"] ?? "", type, (string?)binding["authLevel"] ?? "Function",
                    binding["methods"]?.AsArray().Select(m => (string)m!).ToList() ?? [],
                    template, new TemplateMatcher(template, new RouteValueDictionary())));
            }
            return new(metadata.Name, metadata.FunctionId, triggers);
        }
    }
}
