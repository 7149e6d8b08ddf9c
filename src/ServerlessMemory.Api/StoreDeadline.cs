using System.Net;
using System.Reflection;
using Microsoft.Azure.Cosmos;
using Microsoft.Data.Sqlite;
using ServerlessMemory.Core;

namespace ServerlessMemory.Api;

/// <summary>
/// Every store call gets <c>Memory:Limits:StoreTimeout</c>: its token is cancelled then, and the caller
/// stops waiting even for a store that does not listen to it, so a stalled store is a
/// <see cref="StoreUnavailableException"/> (the hosts answer 503 with <c>Retry-After</c>) instead of a
/// request that hangs. Throttling or unavailability the store's client gave up on is the same
/// exception, with the service's <c>Retry-After</c>. The sweep is left alone: it keeps its own budget.
/// A proxy, as <see cref="MemoryTelemetry.TracedStore"/>: a new store method gets its deadline unwritten.
/// </summary>
public class StoreDeadline : DispatchProxy
{
    /// <summary>What a 503 asks the client to wait when the store said nothing (a deadline passed, a lock held).</summary>
    public static readonly TimeSpan DefaultRetryAfter = TimeSpan.FromSeconds(5);

    private static readonly MethodInfo GuardOfT = typeof(StoreDeadline).GetMethod(nameof(GuardAsync), BindingFlags.NonPublic | BindingFlags.Static)!;
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<Type, MethodInfo> Guards = new();

    private IMemoryStore _inner = null!;
    private TimeSpan _timeout;

    /// <summary>The store with a deadline on each call; <paramref name="timeout"/> zero or less: none.</summary>
    public static IMemoryStore Wrap(IMemoryStore store, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(store);
        if (timeout <= TimeSpan.Zero) return store;
        var proxy = Create<IMemoryStore, StoreDeadline>();
        var deadline = (StoreDeadline)(object)proxy;
        deadline._inner = store;
        deadline._timeout = timeout;
        return proxy;
    }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        ArgumentNullException.ThrowIfNull(targetMethod);
        var parameters = targetMethod.GetParameters();
        var token = parameters.Length > 0 && parameters[^1].ParameterType == typeof(CancellationToken) ? parameters.Length - 1 : -1;
        if (token < 0 || !typeof(Task).IsAssignableFrom(targetMethod.ReturnType) || targetMethod.Name == nameof(IMemoryStore.SweepAsync))
            return Forward(targetMethod, args);

        var caller = (CancellationToken)args![token]!;
        var deadline = CancellationTokenSource.CreateLinkedTokenSource(caller);
        deadline.CancelAfter(_timeout);
        args[token] = deadline.Token;
        Task task;
        try
        {
            task = (Task)Forward(targetMethod, args)!;
        }
        catch (Exception e)
        {
            deadline.Dispose();
            throw Translate(e, caller, deadline, _timeout, targetMethod.Name) ?? e;
        }
        var operation = targetMethod.Name;
        return targetMethod.ReturnType == typeof(Task)
            ? GuardAsync<bool>(Completed(task), deadline, caller, _timeout, operation)
            : Guards.GetOrAdd(targetMethod.ReturnType.GetGenericArguments()[0], t => GuardOfT.MakeGenericMethod(t))
                .Invoke(null, [task, deadline, caller, _timeout, operation]);
    }

    private static async Task<bool> Completed(Task task)
    {
        await task;
        return true;
    }

    private static async Task<T> GuardAsync<T>(Task<T> task, CancellationTokenSource deadline, CancellationToken caller, TimeSpan timeout, string operation)
    {
        try
        {
            // WaitAsync: answer at the deadline even if the store does not listen to its token.
            return await task.WaitAsync(deadline.Token);
        }
        catch (Exception e) when (Translate(e, caller, deadline, timeout, operation) is { } unavailable)
        {
            throw unavailable;
        }
        finally
        {
            deadline.Dispose();
        }
    }

    /// <summary>The exception a store failure means for the caller: unavailable, or null to let it through as it is.</summary>
    private static StoreUnavailableException? Translate(Exception e, CancellationToken caller, CancellationTokenSource deadline, TimeSpan timeout, string operation)
    {
        if (caller.IsCancellationRequested) return null; // the caller went away: nobody to answer
        var name = operation.EndsWith("Async", StringComparison.Ordinal) ? operation[..^5] : operation;
        return e switch
        {
            OperationCanceledException when deadline.IsCancellationRequested =>
                new($"The memory store did not answer within {timeout.TotalSeconds:0.#} s ({name}).", DefaultRetryAfter, e),
            CosmosException { StatusCode: HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable or HttpStatusCode.RequestTimeout } c =>
                new($"Cosmos DB answered {(int)c.StatusCode} ({name}) after the client's retries.", c.RetryAfter ?? DefaultRetryAfter, e),
            // SQLITE_BUSY, SQLITE_LOCKED: another process holds the file past the busy timeout.
            SqliteException { SqliteErrorCode: 5 or 6 } =>
                new($"The SQLite file stayed locked by another writer ({name}).", DefaultRetryAfter, e),
            _ => null,
        };
    }

    private object? Forward(MethodInfo method, object?[]? args)
    {
        try
        {
            return method.Invoke(_inner, args);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException).Throw();
            throw;
        }
    }
}
