using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ServerlessMemory.Tests.Scripted;

/// <summary>A request the scripted model received.</summary>
public sealed record RecordedRequest(string Path, JsonObject Body);

/// <summary>
/// What the scripted model answers to a chat completion: text, tool calls, or a fault. <c>CallIds</c>
/// gives the tool calls' ids (a null entry leaves the id out), as a faulty model might send them;
/// by default each call gets a fresh id. A <c>RawBody</c> is sent as it is, with <c>Status</c>,
/// for answers no real model should give, also to a streamed request. Streamed (a request with <c>"stream": true</c>), the text
/// goes out in <see cref="Tokens"/> (else word by word), the first at <see cref="FirstTokenAt"/> and
/// the last at <see cref="Delay"/>, evenly spaced; <see cref="BreakAfterFirstToken"/> drops the
/// connection after the first.
/// </summary>
public sealed record ScriptedReply(string? Content = null, IReadOnlyList<(string Name, string ArgumentsJson)>? ToolCalls = null,
    int Status = 200, TimeSpan Delay = default, string? RetryAfter = null, int PromptTokens = 10, int CompletionTokens = 5,
    IReadOnlyList<string?>? CallIds = null, string? RawBody = null, TimeSpan FirstTokenAt = default, IReadOnlyList<string>? Tokens = null,
    bool BreakAfterFirstToken = false);

/// <summary>
/// An OpenAI-compatible server on loopback, answering from a script: chat completions (with tool
/// calls), embeddings (float or base64, as the client asks), on the OpenAI (<c>/v1/...</c>) and Azure
/// (<c>/openai/deployments/{name}/...</c>) paths. It records every request. The product talks to it
/// through the real OpenAI and Azure OpenAI clients, so the wire format is tested too.
/// </summary>
public sealed class ScriptedModelServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    public ConcurrentQueue<RecordedRequest> Requests { get; } = new();

    /// <summary>When each streamed answer was done (its last chunk sent, <see cref="System.Diagnostics.Stopwatch.GetTimestamp"/>), in order.</summary>
    public ConcurrentQueue<long> StreamedAnswersDone { get; } = new();

    /// <summary>The embedding of a text; by default a bag of its lexical terms hashed into 64 dimensions.</summary>
    public Func<string, float[]> Embed { get; set; } = HashedTerms;

    /// <summary>When set, every embedding request fails as it says (status, Retry-After, or a delay before answering).</summary>
    public ScriptedReply? EmbeddingFault { get; set; }

    /// <summary>The answer to a chat completion request.</summary>
    public Func<JsonObject, ScriptedReply> Chat { get; set; } = _ => new("ok");

    public string BaseUrl { get; }

    private ScriptedModelServer(WebApplication app, string url)
    {
        _app = app;
        BaseUrl = url;
    }

    public static async Task<ScriptedModelServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        ScriptedModelServer? self = null;
        app.MapPost("/v1/embeddings", (HttpRequest r) => self!.Embeddings(r.HttpContext));
        app.MapPost("/openai/deployments/{name}/embeddings", (HttpRequest r) => self!.Embeddings(r.HttpContext));
        app.MapPost("/v1/chat/completions", (HttpRequest r) => self!.Completions(r.HttpContext));
        app.MapPost("/openai/deployments/{name}/chat/completions", (HttpRequest r) => self!.Completions(r.HttpContext));
        await app.StartAsync();
        var url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        self = new ScriptedModelServer(app, url);
        return self;
    }

    public IEnumerable<JsonObject> RequestsTo(string pathPart) =>
        Requests.Where(r => r.Path.Contains(pathPart, StringComparison.Ordinal)).Select(r => r.Body);

    private async Task<IResult> Embeddings(HttpContext context)
    {
        var body = await Record(context);
        if (EmbeddingFault is { } fault)
        {
            if (fault.Delay > TimeSpan.Zero) await Task.Delay(fault.Delay, context.RequestAborted);
            if (fault.RetryAfter is not null) context.Response.Headers.RetryAfter = fault.RetryAfter;
            if (fault.Status != 200)
                return Results.Json(new JsonObject { ["error"] = new JsonObject { ["message"] = "scripted failure", ["type"] = "server_error" } },
                    statusCode: fault.Status);
        }
        var inputs = body["input"] is JsonArray array ? array.Select(i => i!.GetValue<string>()).ToList() : [body["input"]!.GetValue<string>()];
        var base64 = body["encoding_format"]?.GetValue<string>() == "base64";
        var data = new JsonArray();
        for (var i = 0; i < inputs.Count; i++)
        {
            var vector = Embed(inputs[i]);
            data.Add(new JsonObject
            {
                ["object"] = "embedding",
                ["index"] = i,
                ["embedding"] = base64
                    ? Convert.ToBase64String(MemoryMarshal.AsBytes(vector.AsSpan()))
                    : new JsonArray([.. vector.Select(v => (JsonNode)v)]),
            });
        }
        return Results.Json(new JsonObject
        {
            ["object"] = "list",
            ["data"] = data,
            ["model"] = body["model"]?.GetValue<string>() ?? "deployment",
            ["usage"] = new JsonObject { ["prompt_tokens"] = 1, ["total_tokens"] = 1 },
        });
    }

    private async Task<IResult> Completions(HttpContext context)
    {
        var body = await Record(context);
        var reply = Chat(body);
        // A raw body is sent as it is, streamed request or not: a broken gateway does not care what was asked.
        if (body["stream"] is JsonValue stream && stream.GetValue<bool>() && reply.Status == 200 && reply.RawBody is null)
        {
            await Stream(context, body, reply);
            return Results.Empty;
        }
        if (reply.Delay > TimeSpan.Zero) await Task.Delay(reply.Delay, context.RequestAborted);
        if (reply.RawBody is not null) return Results.Text(reply.RawBody, "application/json", System.Text.Encoding.UTF8, reply.Status);
        if (reply.Status != 200)
        {
            if (reply.RetryAfter is not null) context.Response.Headers.RetryAfter = reply.RetryAfter;
            return Results.Json(new JsonObject { ["error"] = new JsonObject { ["message"] = "scripted failure", ["type"] = "server_error" } },
                statusCode: reply.Status);
        }

        var message = new JsonObject { ["role"] = "assistant", ["content"] = reply.Content };
        if (reply.ToolCalls is { Count: > 0 } calls)
        {
            message["tool_calls"] = new JsonArray([.. calls.Select((c, i) =>
            {
                var call = new JsonObject
                {
                    ["id"] = reply.CallIds is { } ids ? (i < ids.Count ? ids[i] : null) : $"call_{Guid.NewGuid():N}"[..16],
                    ["type"] = "function",
                    ["function"] = new JsonObject { ["name"] = c.Name, ["arguments"] = c.ArgumentsJson },
                };
                if (call["id"] is null) call.Remove("id");
                return (JsonNode)call;
            })]);
        }
        return Results.Json(new JsonObject
        {
            ["id"] = "chatcmpl-" + Guid.NewGuid().ToString("N"),
            ["object"] = "chat.completion",
            ["created"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            ["model"] = body["model"]?.GetValue<string>() ?? "deployment",
            ["choices"] = new JsonArray(new JsonObject
            {
                ["index"] = 0,
                ["message"] = message,
                ["finish_reason"] = reply.ToolCalls is { Count: > 0 } ? "tool_calls" : "stop",
            }),
            ["usage"] = new JsonObject
            {
                ["prompt_tokens"] = reply.PromptTokens,
                ["completion_tokens"] = reply.CompletionTokens,
                ["total_tokens"] = reply.PromptTokens + reply.CompletionTokens,
            },
        });
    }

    /// <summary>OpenAI's streaming wire format: <c>chat.completion.chunk</c> events, usage last when asked for, then <c>[DONE]</c>.</summary>
    private async Task Stream(HttpContext context, JsonObject body, ScriptedReply reply)
    {
        var aborted = context.RequestAborted;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var id = "chatcmpl-" + Guid.NewGuid().ToString("N");
        var model = body["model"]?.GetValue<string>() ?? "deployment";
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        await context.Response.Body.FlushAsync(aborted);

        async Task Send(JsonObject? delta, string? finish = null, JsonObject? usage = null)
        {
            var chunk = new JsonObject
            {
                ["id"] = id, ["object"] = "chat.completion.chunk", ["created"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(), ["model"] = model,
                ["choices"] = delta is null ? new JsonArray() : new JsonArray(new JsonObject { ["index"] = 0, ["delta"] = delta, ["finish_reason"] = finish }),
            };
            if (usage is not null) chunk["usage"] = usage;
            await context.Response.WriteAsync($"data: {chunk.ToJsonString()}\n\n", aborted);
            await context.Response.Body.FlushAsync(aborted);
        }
        async Task At(TimeSpan at)
        {
            var wait = at - clock.Elapsed;
            if (wait > TimeSpan.Zero) await Task.Delay(wait, aborted);
        }

        var tokens = reply.Tokens ?? Words(reply.Content);
        var last = reply.Delay > reply.FirstTokenAt ? reply.Delay : reply.FirstTokenAt;
        await At(reply.FirstTokenAt);
        for (var i = 0; i < tokens.Count; i++)
        {
            if (i > 0) await At(reply.FirstTokenAt + (last - reply.FirstTokenAt) * i / Math.Max(1, tokens.Count - 1));
            await Send(i == 0 ? new JsonObject { ["role"] = "assistant", ["content"] = tokens[i] } : new JsonObject { ["content"] = tokens[i] });
            if (reply.BreakAfterFirstToken)
            {
                // Let the client read the token first: a reset can drop what its socket has not read.
                await Task.Delay(TimeSpan.FromMilliseconds(300), aborted);
                context.Abort();
                return;
            }
        }
        if (reply.ToolCalls is { Count: > 0 } calls)
        {
            await Send(new JsonObject
            {
                ["role"] = "assistant",
                ["tool_calls"] = new JsonArray([.. calls.Select((c, i) => (JsonNode)new JsonObject
                {
                    ["index"] = i, ["id"] = reply.CallIds is { } ids ? (i < ids.Count ? ids[i] : null) : $"call_{Guid.NewGuid():N}"[..16], ["type"] = "function",
                    ["function"] = new JsonObject { ["name"] = c.Name, ["arguments"] = c.ArgumentsJson },
                })]),
            });
        }
        await At(last);
        await Send(new JsonObject(), reply.ToolCalls is { Count: > 0 } ? "tool_calls" : "stop");
        if (body["stream_options"]?["include_usage"] is JsonValue include && include.GetValue<bool>())
        {
            await Send(null, usage: new JsonObject
            {
                ["prompt_tokens"] = reply.PromptTokens, ["completion_tokens"] = reply.CompletionTokens,
                ["total_tokens"] = reply.PromptTokens + reply.CompletionTokens,
            });
        }
        StreamedAnswersDone.Enqueue(System.Diagnostics.Stopwatch.GetTimestamp());
        await context.Response.WriteAsync("data: [DONE]\n\n", aborted);
    }

    /// <summary>Words with the spaces before them, so that the pieces add up to the text.</summary>
    private static List<string> Words(string? text) =>
        string.IsNullOrEmpty(text) ? [] : [.. System.Text.RegularExpressions.Regex.Matches(text, @"\s*\S+").Select(m => m.Value)];

    private async Task<JsonObject> Record(HttpContext context)
    {
        var body = (JsonObject)(await JsonNode.ParseAsync(context.Request.Body))!;
        Requests.Enqueue(new(context.Request.Path, body));
        return body;
    }

    public static float[] HashedTerms(string text)
    {
        var vector = new float[64];
        foreach (var term in Core.LexicalTerms.ForIndex(text))
            vector[(int)((uint)StringComparer.Ordinal.GetHashCode(term) % 64)] += 1;
        return vector;
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
