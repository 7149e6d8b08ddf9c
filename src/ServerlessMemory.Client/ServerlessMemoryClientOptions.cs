namespace ServerlessMemory.Client;

/// <summary>Where the service is and how to call it (configuration section <c>ServerlessMemory</c> by default).</summary>
public sealed class ServerlessMemoryClientOptions
{
    /// <summary>The service's root, e.g. <c>https://my-app.azurewebsites.net/</c> (the client adds <c>api/</c>).</summary>
    public Uri? BaseAddress { get; set; }

    /// <summary>Sent as <c>x-functions-key</c>: a function key of the Functions app, or the self-host's <c>Auth__ApiKey</c>.</summary>
    public string? ApiKey { get; set; }

    /// <summary>For <c>/api/admin/*</c>: the master key, or the self-host's <c>Auth__AdminKey</c>.</summary>
    public string? AdminKey { get; set; }

    /// <summary>One attempt's timeout; longer than the service's own chat turn timeout (2 minutes by default).</summary>
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(150);

    /// <summary>Retries of a failed attempt (see <c>AddServerlessMemoryClient</c> for which are retried).</summary>
    public int MaxRetries { get; set; } = 3;

    /// <summary>The first retry's delay (exponential with jitter after it) when the service sends no <c>Retry-After</c>.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>A <c>Retry-After</c> longer than this is not waited for: the caller gets the 503 at once.</summary>
    public TimeSpan MaxRetryAfter { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>A base address that ends in '/', so that <c>api/...</c> is resolved below it, not beside it.</summary>
    internal static Uri? Normalize(Uri? address) =>
        address is null || !address.IsAbsoluteUri || address.AbsolutePath.EndsWith('/') ? address : new Uri(address.AbsoluteUri + "/");
}
