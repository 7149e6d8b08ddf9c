using System.Linq.Expressions;
using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ServerlessMemory.Api;

namespace ServerlessMemory.Tests.Ecosystem;

/// <summary>
/// The Functions app's shape without the Functions host: the shared composition root, and every
/// route of <see cref="ApiRoutes.All"/> mapped straight to <c>MemoryApi.{Name}</c>, which is all
/// each function does (FunctionsRouteTests pin that). No <c>MapMcp</c>, no key filter (the
/// Functions host checks keys). Used where the worker test host is not there to run the app itself.
/// </summary>
public sealed class FunctionsHandlerHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly string _directory;

    private FunctionsHandlerHost(WebApplication app, string directory)
    {
        _app = app;
        _directory = directory;
        BaseAddress = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
    }

    public Uri BaseAddress { get; }

    public IServiceProvider Services => _app.Services;

    public HttpClient Client() => new() { BaseAddress = BaseAddress };

    public static async Task<FunctionsHandlerHost> StartAsync(IDictionary<string, string?>? settings = null, Action<IServiceCollection>? services = null)
    {
        var directory = Directory.CreateTempSubdirectory("sm-fn-").FullName;
        var builder = WebApplication.CreateBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Memory:SqlitePath"] = Path.Combine(directory, "memory.db"),
            ["Decay:Schedule"] = "0 0 0 1 1 *",
        });
        if (settings is not null) builder.Configuration.AddInMemoryCollection(settings);
        builder.AddServerlessMemory();
        services?.Invoke(builder.Services);
        var app = builder.Build();
        foreach (var route in ApiRoutes.All)
        {
            var handler = typeof(MemoryApi).GetMethod(route.Name, BindingFlags.Public | BindingFlags.Static)!;
            var type = Expression.GetDelegateType([.. handler.GetParameters().Select(p => p.ParameterType), handler.ReturnType]);
            app.MapMethods("/api/" + route.Template, [route.Method], handler.CreateDelegate(type));
        }
        await app.StartAsync();
        return new FunctionsHandlerHost(app, directory);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { }
    }
}
