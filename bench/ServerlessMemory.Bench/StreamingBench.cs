using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.ServerSentEvents;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ServerlessMemory.Api;
using ServerlessMemory.Tests.Scripted;

/// <summary>
/// Time to the first <c>delta</c> of a streamed turn over HTTP: the self-host's composition on
/// Kestrel, the OpenAI client, and the scripted model streaming its first token at 300 ms of an
/// 800 ms answer (extraction answers at once). The figure is what the service adds on top of 300 ms.
/// </summary>
internal static class StreamingBench
{
    public static async Task RunAsync(string directory, bool quick)
    {
        await using var model = await ScriptedModelServer.StartAsync();
        model.Chat = request => request["response_format"] is not null
            ? new("""{"core":[],"archive":[]}""")
            : new("Your churn project uses XGBoost, and the next step is tuning.", FirstTokenAt: TimeSpan.FromMilliseconds(300), Delay: TimeSpan.FromMilliseconds(800));

        var builder = WebApplication.CreateBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Memory:SqlitePath"] = Path.Combine(directory, "stream.db"),
            ["Model:Provider"] = "OpenAI",
            ["Model:Endpoint"] = model.BaseUrl + "/v1",
            ["Model:ApiKey"] = "bench",
            ["Model:EmbeddingModel"] = "",
        });
        builder.AddServerlessMemory();
        await using var app = builder.Build();
        app.MapMemoryApi();
        await app.StartAsync();
        using var http = new HttpClient { BaseAddress = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()) };

        var first = new List<double>();
        var done = new List<double>();
        var turns = quick ? 8 : 30;
        for (var i = 0; i < turns + 3; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/users/bench/chat")
            {
                Content = new StringContent($$"""{"message":"turn {{i}}: what is next for my churn project?"}""", System.Text.Encoding.UTF8, "application/json"),
            };
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
            var clock = Stopwatch.StartNew();
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            response.EnsureSuccessStatusCode();
            double? firstDelta = null;
            await foreach (var item in SseParser.Create(await response.Content.ReadAsStreamAsync()).EnumerateAsync())
            {
                if (item.EventType == "delta") firstDelta ??= clock.Elapsed.TotalMilliseconds;
                if (item.EventType == "error") throw new InvalidOperationException(item.Data);
            }
            if (i < 3) continue; // warm-up: JIT, connection pools, the SQLite file
            first.Add(firstDelta ?? double.NaN);
            done.Add(clock.Elapsed.TotalMilliseconds);
        }
        Console.WriteLine($"stream time to first delta, model's first token at 300 ms of 800 ms ({turns} turns): " +
                          $"p50 {Percentile(first, 50):F0} ms  p95 {Percentile(first, 95):F0} ms; done p50 {Percentile(done, 50):F0} ms");
    }

    private static double Percentile(List<double> values, double p)
    {
        var sorted = values.Order().ToList();
        return sorted[(int)Math.Clamp(Math.Ceiling(p / 100 * sorted.Count) - 1, 0, sorted.Count - 1)];
    }
}
