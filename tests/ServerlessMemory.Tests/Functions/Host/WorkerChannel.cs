using System.Collections.Concurrent;
using System.Threading.Channels;
using Grpc.Core;
using ServerlessMemory.Tests.Functions.Host.Rpc;

namespace ServerlessMemory.Tests.Functions.Host;

/// <summary>
/// The one event stream a worker opens to the host: what the host sends goes out in order, and each
/// answer the worker sends is handed to whoever waits for it (by request id, function id or
/// invocation id); the worker's logs are kept.
/// </summary>
internal sealed class WorkerChannel(string workerId)
{
    private readonly Channel<StreamingMessage> _outbound = Channel.CreateUnbounded<StreamingMessage>(new() { SingleReader = true });
    private readonly ConcurrentDictionary<string, TaskCompletionSource<StreamingMessage>> _waiting = new();
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public string WorkerId { get; } = workerId;

    /// <summary>Completes when the worker has opened the stream with its <c>StartStream</c>.</summary>
    public Task Started => _started.Task;

    /// <summary>Completes when the stream is gone: nothing waited for will come any more.</summary>
    public Task Ended => _ended.Task;

    public ConcurrentQueue<string> Logs { get; } = new();

    /// <summary>Sends a message and waits for the answer that carries <paramref name="key"/>.</summary>
    public async Task<StreamingMessage> RequestAsync(StreamingMessage message, string key, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var answer = _waiting.GetOrAdd(key, _ => new(TaskCreationOptions.RunContinuationsAsynchronously));
        try
        {
            await SendAsync(message, cancellationToken);
            var first = await Task.WhenAny(answer.Task, Ended).WaitAsync(timeout, cancellationToken);
            return first == answer.Task
                ? await answer.Task
                : throw new InvalidOperationException($"The worker's event stream ended while waiting for '{key}'.");
        }
        finally
        {
            _waiting.TryRemove(key, out _);
        }
    }

    public ValueTask SendAsync(StreamingMessage message, CancellationToken cancellationToken = default) =>
        _outbound.Writer.WriteAsync(message, cancellationToken);

    /// <summary>The gRPC side: runs for as long as the worker keeps its <c>EventStream</c> call open.</summary>
    public async Task RunAsync(IAsyncStreamReader<StreamingMessage> requests, IServerStreamWriter<StreamingMessage> responses, CancellationToken cancellationToken)
    {
        if (!await requests.MoveNext(cancellationToken) || requests.Current.ContentCase != StreamingMessage.ContentOneofCase.StartStream)
            throw new Grpc.Core.RpcException(new Status(StatusCode.InvalidArgument, "The first message of the event stream must be StartStream."));
        if (requests.Current.StartStream.WorkerId != WorkerId)
            throw new Grpc.Core.RpcException(new Status(StatusCode.PermissionDenied, $"Unknown worker id '{requests.Current.StartStream.WorkerId}'."));
        if (!_started.TrySetResult())
            throw new Grpc.Core.RpcException(new Status(StatusCode.AlreadyExists, "This worker already has an event stream."));

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var writer = Task.Run(async () =>
        {
            await foreach (var message in _outbound.Reader.ReadAllAsync(stop.Token))
                await responses.WriteAsync(message, stop.Token);
        }, stop.Token);
        try
        {
            while (await requests.MoveNext(cancellationToken))
                Dispatch(requests.Current);
        }
        finally
        {
            _ended.TrySetResult();
            await stop.CancelAsync();
            try { await writer; } catch (OperationCanceledException) { }
        }
    }

    private void Dispatch(StreamingMessage message)
    {
        var key = message.ContentCase switch
        {
            StreamingMessage.ContentOneofCase.WorkerInitResponse or StreamingMessage.ContentOneofCase.FunctionMetadataResponse => message.RequestId,
            StreamingMessage.ContentOneofCase.FunctionLoadResponse => message.FunctionLoadResponse.FunctionId,
            StreamingMessage.ContentOneofCase.InvocationResponse => message.InvocationResponse.InvocationId,
            _ => null,
        };
        if (message.ContentCase == StreamingMessage.ContentOneofCase.RpcLog)
        {
            var log = message.RpcLog;
            Logs.Enqueue($"[worker {log.Level}] {log.Category}: {log.Message}{(log.Exception is { } e ? $" {e.Type}: {e.Message}" : "")}");
        }
        else if (message.ContentCase == StreamingMessage.ContentOneofCase.None)
        {
            // The worker answers WorkerTerminate (and anything it does not know) with an empty message.
        }
        else if (key is not null && _waiting.TryGetValue(key, out var waiting))
        {
            waiting.TrySetResult(message);
        }
        else
        {
            Logs.Enqueue($"[host] unexpected {message.ContentCase} '{key}' from the worker");
        }
    }
}

/// <summary>The host's <c>FunctionRpc</c> service: hands the worker's stream to its channel.</summary>
internal sealed class FunctionRpcService(WorkerChannel channel) : FunctionRpc.FunctionRpcBase
{
    public override Task EventStream(IAsyncStreamReader<StreamingMessage> requestStream, IServerStreamWriter<StreamingMessage> responseStream, ServerCallContext context) =>
        channel.RunAsync(requestStream, responseStream, context.CancellationToken);
}
