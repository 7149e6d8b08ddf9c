using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Reflection;

namespace ServerlessMemory.Core;

/// <summary>
/// The service's traces and metrics, with System.Diagnostics only (the hosts choose exporters):
/// a span per chat turn with its tool calls and memory updates as events, a span per store call,
/// and per-turn token and request-unit histograms. No user content, user id or key goes into an
/// attribute: labels, tool names, counts and costs only.
/// </summary>
public static class MemoryTelemetry
{
    public const string Name = "ServerlessMemory";

    public static readonly ActivitySource Source = new(Name, typeof(MemoryTelemetry).Assembly.GetName().Version?.ToString());

    public static readonly Meter Meter = new(Name, typeof(MemoryTelemetry).Assembly.GetName().Version?.ToString());

    public static readonly Histogram<long> TurnTokens = Meter.CreateHistogram<long>("memory.turn.tokens", "{token}",
        "Model tokens of a chat turn, all its model calls together; gen_ai.token.type is input or output.");

    public static readonly Histogram<double> TurnRequestCharge = Meter.CreateHistogram<double>("memory.turn.request_charge", "{request_unit}",
        "Cosmos DB request units of a chat turn's store calls (0 on the embedded store).");

    private static readonly AsyncLocal<TurnCost?> Cost = new();

    /// <summary>Adds a store response's request charge to the store call's span and to the turn that made it.</summary>
    public static void RecordRequestCharge(double requestCharge)
    {
        if (Activity.Current is { } store && store.Source == Source)
            store.SetTag("db.cosmosdb.request_charge", (store.GetTagItem("db.cosmosdb.request_charge") as double? ?? 0) + requestCharge);
        if (Cost.Value is { } cost) cost.Add(requestCharge);
    }

    internal static Activity? StartTurn(string sessionId)
    {
        var activity = Source.StartActivity("chat_turn", ActivityKind.Internal);
        activity?.SetTag("memory.session.default", sessionId == "default");
        return activity;
    }

    internal static TurnCost BeginTurnCost() => Cost.Value = new TurnCost();

    internal static void EndTurn(Activity? activity, ChatTurnResult turn, TurnCost cost, string store)
    {
        TurnTokens.Record(turn.Usage.PromptTokens, new KeyValuePair<string, object?>("gen_ai.token.type", "input"));
        TurnTokens.Record(turn.Usage.CompletionTokens, new KeyValuePair<string, object?>("gen_ai.token.type", "output"));
        TurnRequestCharge.Record(cost.Total, new KeyValuePair<string, object?>("db.system", store));
        if (activity is null) return;
        activity.SetTag("memory.turn.id", turn.TurnId);
        activity.SetTag("memory.turn.model_calls", turn.Usage.ModelCalls);
        activity.SetTag("gen_ai.usage.input_tokens", turn.Usage.PromptTokens);
        activity.SetTag("gen_ai.usage.output_tokens", turn.Usage.CompletionTokens);
        activity.SetTag("memory.turn.tool_calls", turn.ToolCalls.Count);
        activity.SetTag("memory.turn.memory_updates", turn.MemoryUpdates.Count);
        activity.SetTag("memory.turn.recalled", turn.Recalled.Count);
        activity.SetTag("db.cosmosdb.request_charge", cost.Total);
        foreach (var call in turn.ToolCalls)
            activity.AddEvent(new ActivityEvent("memory.tool_call", tags: new ActivityTagsCollection { ["gen_ai.tool.name"] = call.Name }));
        foreach (var update in turn.MemoryUpdates)
            activity.AddEvent(new ActivityEvent("memory.update", tags: new ActivityTagsCollection
            {
                ["memory.update.target"] = update.Target, ["memory.update.action"] = update.Action, ["memory.update.label"] = update.Label,
            }));
    }

    internal static void Fail(Activity? activity, Exception e)
    {
        activity?.SetStatus(ActivityStatusCode.Error, e.GetType().Name);
        activity?.SetTag("error.type", e.GetType().FullName);
    }

    /// <summary>The request charge of one turn's store calls, across the tasks it runs at once.</summary>
    internal sealed class TurnCost
    {
        private long _centiUnits;

        public double Total => Interlocked.Read(ref _centiUnits) / 100.0;

        public void Add(double requestCharge) => Interlocked.Add(ref _centiUnits, (long)Math.Round(requestCharge * 100));
    }

    /// <summary>A store whose every call is a client span (<c>db.system</c>, the operation), whatever the store.</summary>
    public static IMemoryStore Traced(IMemoryStore store)
    {
        var proxy = DispatchProxy.Create<IMemoryStore, TracedStore>();
        ((TracedStore)(object)proxy).Inner = store;
        return proxy;
    }

    /// <summary>A proxy, so that a new store method is traced without anyone writing it here.</summary>
    public class TracedStore : DispatchProxy
    {
        internal IMemoryStore Inner { get; set; } = null!;

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
        {
            ArgumentNullException.ThrowIfNull(targetMethod);
            if (targetMethod.IsSpecialName) return Invoke(targetMethod, Inner, args); // properties: Name
            var parent = Activity.Current;
            var activity = Source.StartActivity("store " + Operation(targetMethod.Name), ActivityKind.Client);
            if (activity is null) return Invoke(targetMethod, Inner, args);
            activity.SetTag("db.system", Inner.Name is "cosmos" ? "cosmosdb" : Inner.Name);
            activity.SetTag("db.operation.name", Operation(targetMethod.Name));
            try
            {
                var result = Invoke(targetMethod, Inner, args);
                if (result is Task task)
                {
                    task.ContinueWith(static (t, state) =>
                    {
                        var a = (Activity)state!;
                        if (t.IsFaulted) Fail(a, t.Exception!.GetBaseException());
                        a.Dispose();
                    }, activity, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                }
                else
                {
                    activity.Dispose();
                }
                return result;
            }
            catch (Exception e)
            {
                Fail(activity, e);
                activity.Dispose();
                throw;
            }
            finally
            {
                Activity.Current = parent; // the span stays open until the call's task ends; the caller's context is the caller's
            }
        }

        private static object? Invoke(MethodInfo method, IMemoryStore target, object?[]? args)
        {
            try
            {
                return method.Invoke(target, args);
            }
            catch (TargetInvocationException e) when (e.InnerException is not null)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException).Throw();
                throw;
            }
        }

        private static string Operation(string method) => method.EndsWith("Async", StringComparison.Ordinal) ? method[..^5] : method;
    }
}
