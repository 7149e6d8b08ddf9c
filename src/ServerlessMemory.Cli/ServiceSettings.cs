using System.ComponentModel;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using ServerlessMemory.Client;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ServerlessMemory.Cli;

/// <summary>
/// Where the service is: <c>--url</c> or <c>SERVERLESSMEMORY_URL</c>, and its key, <c>--key</c> or
/// <c>SERVERLESSMEMORY_KEY</c> (the environment is better: a command line is visible to every user of the machine).
/// The key is sent as <c>x-functions-key</c> and never printed.
/// </summary>
public class ServiceSettings : CommandSettings
{
    public const string UrlVariable = "SERVERLESSMEMORY_URL";
    public const string KeyVariable = "SERVERLESSMEMORY_KEY";

    [CommandOption("--url <URL>")]
    [Description("The service's root, e.g. https://my-app.azurewebsites.net/ (default: $SERVERLESSMEMORY_URL, else http://127.0.0.1:7071/).")]
    public string? Url { get; init; }

    [CommandOption("--key <KEY>")]
    [Description("A function key or the self-host's Auth__ApiKey (default: $SERVERLESSMEMORY_KEY).")]
    public string? Key { get; init; }

    public override ValidationResult Validate() =>
        Url is null || Uri.TryCreate(Url, UriKind.Absolute, out var u) && u.Scheme is "http" or "https"
            ? ValidationResult.Success()
            : ValidationResult.Error("--url must be an absolute http or https address.");
}

/// <summary>A user of the service, named as the first argument.</summary>
public class UserSettings : ServiceSettings
{
    [CommandArgument(0, "<USER>")]
    [Description("The user's id.")]
    public string User { get; init; } = "";
}

/// <summary>Clients of the service, each with the client package's resilience pipeline.</summary>
public sealed class ServiceClients(SmemConsole console) : IDisposable
{
    public const string DefaultUrl = "http://127.0.0.1:7071/";

    private readonly List<ServiceProvider> _providers = [];

    public ServerlessMemoryClient Create(ServiceSettings settings) =>
        Create(settings.Url ?? console.Environment(ServiceSettings.UrlVariable), settings.Key ?? console.Environment(ServiceSettings.KeyVariable));

    /// <summary>
    /// The service's own time, from the <c>Date</c> header of its health answer (whole seconds, so never
    /// ahead of it): memories converted here enter memory then, and a clock of this machine that runs
    /// ahead of the service's cannot make them "in the future". This machine's time when it sends none.
    /// </summary>
    public async Task<DateTimeOffset> ServiceTimeAsync(ServiceSettings settings, CancellationToken cancellationToken)
    {
        var address = new Uri(settings.Url ?? console.Environment(ServiceSettings.UrlVariable) ?? DefaultUrl, UriKind.Absolute);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        using var response = await http.GetAsync(new Uri(WithSlash(address), "api/health"), cancellationToken);
        return response.Headers.Date is { } date && date < DateTimeOffset.UtcNow ? date : DateTimeOffset.UtcNow;
    }

    private static Uri WithSlash(Uri address) =>
        address.AbsolutePath.EndsWith('/') ? address : new Uri(address.AbsoluteUri + "/");

    public ServerlessMemoryClient Create(string? url, string? key)
    {
        var address = new Uri(string.IsNullOrWhiteSpace(url) ? DefaultUrl : url, UriKind.Absolute);
        // The client binds its options from configuration; the tool's come from its options and environment alone.
        var services = new ServiceCollection().AddSingleton<IConfiguration>(new ConfigurationBuilder().Build());
        services.AddServerlessMemoryClient(address, string.IsNullOrEmpty(key) ? null : key);
        var provider = services.BuildServiceProvider();
        _providers.Add(provider);
        return provider.GetRequiredService<ServerlessMemoryClient>();
    }

    public void Dispose()
    {
        foreach (var provider in _providers) provider.Dispose();
    }
}
