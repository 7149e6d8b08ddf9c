using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using ServerlessMemory.Tests.Scripted;
using static ServerlessMemory.Tests.Api.HttpAssert;
using static ServerlessMemory.Tests.Chat.ChatRequests;

namespace ServerlessMemory.Tests.FailurePaths;

/// <summary>Extraction gets what is left of the turn's deadline; when it runs out, its proposals go and the reply stays.</summary>
public sealed class SlowExtractionTests : IAsyncLifetime
{
    private ScriptedModelServer _model = null!;

    public async Task InitializeAsync() => _model = await ScriptedModelServer.StartAsync();

    public async Task DisposeAsync() => await _model.DisposeAsync();

    [Fact]
    public async Task An_extraction_slower_than_the_turn_deadline_is_dropped_and_the_ready_reply_is_answered_and_stored()
    {
        var slow = false;
        _model.Chat = request => IsExtraction(request)
            ? new("""{"core":[],"remove":[],"archive":[{"content":"the falcon project ships in May","type":"fact","importance":0.6,"subject":"falcon","supersedes":[]}]}""",
                Delay: slow ? TimeSpan.FromSeconds(120) : TimeSpan.Zero)
            : new("The falcon project ships in May.");
        using var service = Service(_model);
        service.Settings["Chat:TurnTimeout"] = "00:00:08";
        var http = service.Client();
        // A first turn warms the service up, so that the main call of the next is well inside the deadline on a busy machine.
        (await http.PostAsync("/api/users/warm/chat", Json("""{"message":"hello"}"""))).Dispose();
        slow = true;
        var clock = Stopwatch.StartNew();

        var response = await http.PostAsync("/api/users/slow/chat", Json("""{"message":"the falcon project ships in May"}"""));

        Assert.True(response.IsSuccessStatusCode, string.Join("\n", service.Logs.Entries.Select(e => e.AllText)));
        var turn = await Ok(response);

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"the turn took {clock.Elapsed.TotalSeconds:F1} s");
        Assert.Equal("The falcon project ships in May.", (string?)turn["reply"]);
        Assert.Empty(turn["memoryUpdates"]!.AsArray());
        var messages = (await Ok(await http.GetAsync("/api/users/slow/messages")))["items"]!.AsArray();
        Assert.Equal(["The falcon project ships in May.", "the falcon project ships in May"], messages.Select(m => (string?)m!["content"]));
        Assert.Empty((await Ok(await http.GetAsync("/api/users/slow/memory/archive")))["items"]!.AsArray());
        Assert.Contains(service.Logs.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("extraction did not answer within", StringComparison.Ordinal));
        Assert.Empty(service.Logs.AtLeast(LogLevel.Error));
    }
}
