using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Memory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ServerlessMemory.Api;

/// <summary>What both hosts get before any setting of the user's: quiet request logging and redacted logs.</summary>
internal static class HostDefaults
{
    /// <summary>
    /// ASP.NET Core logs about six lines per request at Information (start, endpoint, result, end);
    /// these defaults keep its Warnings and Errors only. They sit below every other configuration
    /// source, so <c>Logging__LogLevel__Microsoft.AspNetCore=Information</c> brings the lines back.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string?> Logging = new Dictionary<string, string?>
    {
        ["Logging:LogLevel:Default"] = "Information",
        ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",
        ["Logging:LogLevel:Microsoft.Extensions.Http"] = "Warning",
        ["Logging:LogLevel:System.Net.Http.HttpClient"] = "Warning",
        // One entry, one line: start-up says one thing per line.
        ["Logging:Console:FormatterOptions:SingleLine"] = "true",
    };

    public static void Apply(IHostApplicationBuilder builder)
    {
        builder.Configuration.Sources.Insert(0, new MemoryConfigurationSource { InitialData = Logging });
        builder.Services.Replace(ServiceDescriptor.Singleton<ILoggerFactory, RedactingLoggerFactory>());
    }
}
