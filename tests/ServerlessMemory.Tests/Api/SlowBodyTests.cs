using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using static ServerlessMemory.Tests.Api.HttpAssert;

namespace ServerlessMemory.Tests.Api;

/// <summary>Bodies that come too slowly, end early or are dropped: a 4xx problem, no Error log, nothing stored.</summary>
public sealed class SlowBodyTests(ServiceFactory service) : IClassFixture<ServiceFactory>
{
    private async Task<NetworkStream> Connect()
    {
        var address = service.Client().BaseAddress!;
        var client = new TcpClient();
        await client.ConnectAsync(address.Host, address.Port);
        return client.GetStream();
    }

    private static byte[] Head(string path, int contentLength) => Encoding.ASCII.GetBytes(
        $"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {contentLength}\r\n\r\n");

    private static async Task<string> ReadAll(NetworkStream stream, TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        var buffer = new MemoryStream();
        var chunk = new byte[4096];
        try
        {
            int read;
            while ((read = await stream.ReadAsync(chunk, cancel.Token)) > 0)
            {
                buffer.Write(chunk, 0, read);
                var text = Encoding.UTF8.GetString(buffer.ToArray());
                var headerEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
                if (headerEnd > 0 && text.Contains("Content-Length: ", StringComparison.OrdinalIgnoreCase))
                {
                    var length = int.Parse(text[(text.IndexOf("Content-Length: ", StringComparison.OrdinalIgnoreCase) + 16)..].Split('\r')[0], System.Globalization.CultureInfo.InvariantCulture);
                    if (text.Length - headerEnd - 4 >= length) break;
                }
            }
        }
        catch (OperationCanceledException) { }
        catch (IOException) { }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    [Fact]
    public async Task A_body_that_stops_coming_is_a_408_or_400_problem_without_an_error_log()
    {
        var user = "slow-" + Guid.NewGuid().ToString("N")[..8];
        service.Logs.Clear();
        await using var stream = await Connect();
        await stream.WriteAsync(Head($"/api/users/{user}/memory/archive", 1000));
        await stream.WriteAsync("""{"content":"""u8.ToArray());

        var answer = await ReadAll(stream, TimeSpan.FromSeconds(30));

        Assert.Matches(@"^HTTP/1\.1 40[08] ", answer);
        Assert.Contains("application/problem+json", answer, StringComparison.Ordinal);
        Assert.Empty((await Ok(await service.Client().GetAsync($"/api/users/{user}/memory/archive")))["items"]!.AsArray());
        Assert.Empty(service.Logs.AtLeast(LogLevel.Error));
    }

    [Fact]
    public async Task A_client_that_drops_mid_body_leaves_no_error_log_and_nothing_stored()
    {
        var user = "drop-" + Guid.NewGuid().ToString("N")[..8];
        service.Logs.Clear();
        foreach (var path in new[] { $"/api/users/{user}/memory/archive", $"/api/users/{user}/memory/core/human", $"/api/users/{user}/tools/archive_content" })
        {
            var stream = await Connect();
            await stream.WriteAsync(Head(path, 5000));
            await stream.WriteAsync("""{"content":"half"""u8.ToArray());
            await stream.FlushAsync();
            await Task.Delay(100);
            stream.Socket.Close(0);
            await stream.DisposeAsync();
        }
        await Task.Delay(500);

        Assert.Empty((await Ok(await service.Client().GetAsync($"/api/users/{user}/memory/archive")))["items"]!.AsArray());
        Assert.Empty(service.Logs.AtLeast(LogLevel.Error));
    }

    [Fact]
    public async Task A_body_shorter_than_its_content_length_is_a_4xx_problem_if_anything()
    {
        var user = "short-" + Guid.NewGuid().ToString("N")[..8];
        service.Logs.Clear();
        var stream = await Connect();
        await stream.WriteAsync(Head($"/api/users/{user}/memory/archive", 100));
        await stream.WriteAsync("""{"content":"x"}"""u8.ToArray());
        stream.Socket.Shutdown(SocketShutdown.Send);

        var answer = await ReadAll(stream, TimeSpan.FromSeconds(30));
        await stream.DisposeAsync();

        // A half-closed connection is a gone client to Kestrel: it may not be answered at all.
        if (answer.Length > 0)
        {
            Assert.Matches(@"^HTTP/1\.1 4\d\d", answer);
            Assert.Contains("application/problem+json", answer, StringComparison.Ordinal);
        }
        Assert.Empty((await Ok(await service.Client().GetAsync($"/api/users/{user}/memory/archive")))["items"]!.AsArray());
        Assert.Empty(service.Logs.AtLeast(LogLevel.Error));
    }
}
