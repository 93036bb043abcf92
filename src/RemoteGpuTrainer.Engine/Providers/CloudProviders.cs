using RemoteGpuTrainer.Engine.Model;

namespace RemoteGpuTrainer.Engine.Providers;

/// <summary>What a new instance is created with: its name, the user's SSH public key, image and disk; a bid for an interruptible one.</summary>
public sealed record RentalSpec(string Name, string PublicKey, string Image, int DiskGB, decimal? BidPerHour);

/// <summary>A cloud provider's API: offers, and the life of an instance (create, read, list, stop, start, terminate). Disposing it closes its HTTP client.</summary>
public interface ICloudProvider : IDisposable
{
    string Name { get; }
    /// <summary>False where the provider has no stop (Lambda): only terminate ends the meter.</summary>
    bool CanStop { get; }
    Task<IReadOnlyList<GpuOffer>> ListOffersAsync(OfferQuery query, CancellationToken ct);
    /// <summary>Creates an instance from an offer; returns its id once the provider accepted it.</summary>
    Task<string> CreateAsync(GpuOffer offer, RentalSpec spec, CancellationToken ct);
    Task<GpuRental> GetAsync(string id, CancellationToken ct);
    Task<IReadOnlyList<GpuRental>> ListAsync(CancellationToken ct);
    Task StopAsync(string id, CancellationToken ct);
    /// <summary>Powers a stopped instance on again; its address or port may be new (read it with GetAsync once it runs).</summary>
    Task StartAsync(string id, CancellationToken ct);
    Task TerminateAsync(string id, CancellationToken ct);
}

public static class CloudProviders
{
    /// <summary>The providers whose offers can be listed through their APIs.</summary>
    public static readonly string[] WithOffers = { "runpod", "vastai", "lambda", "paperspace" };

    /// <summary>Whether the host was created through a provider's API (New-GpuRental -Offer or -Provider), so the API can stop, start or terminate it.</summary>
    public static bool Manages(GpuHost host) => host.Provider is { } p && WithOffers.Contains(p) && !string.IsNullOrEmpty(host.RentalId);

    static readonly Dictionary<string, string> DefaultUrls = new(StringComparer.Ordinal)
    {
        ["runpod"] = "https://api.runpod.io/graphql", ["vastai"] = "https://console.vast.ai/api/v0",
        ["lambda"] = "https://cloud.lambda.ai/api/v1", ["paperspace"] = "https://api.paperspace.com/v1",
        ["runpod_rest"] = "https://rest.runpod.io/v1",
    };

    /// <summary>RGT_&lt;PROVIDER&gt;_API_URL (tests, corporate proxies), else the provider's own address.</summary>
    public static Uri BaseUrl(string provider, Func<string, string?> environment)
    {
        var name = $"RGT_{provider.ToUpperInvariant()}_API_URL";
        var text = environment(name) is { Length: > 0 } v ? v : DefaultUrls[provider];
        return Uri.TryCreate(text.TrimEnd('/'), UriKind.Absolute, out var u) && (u.Scheme == "https" || u.Scheme == "http")
            ? u : throw new RgtException("ProviderUrlInvalid", FailureKind.InvalidArgument, $"${name} is '{text}', not an http(s) URL.");
    }

    /// <summary>
    /// The provider's API with its key resolved (<see cref="ApiKeys.Resolve"/>) and its address from the
    /// environment, on an HTTP client of its own (the caller disposes the API). Says in <paramref name="log"/> where the key came from.
    /// </summary>
    public static ICloudProvider Connect(string provider, string? explicitKey, Action<string> log, Platforms.PlatformCatalog catalog)
    {
        var key = ApiKeys.Resolve(provider, explicitKey, Environment.GetEnvironmentVariable, Environment.GetFolderPath(Environment.SpecialFolder.UserProfile));
        log($"{provider}: API key from {key.From}");
        var url = BaseUrl(provider, Environment.GetEnvironmentVariable);
        return Create(provider, new ProviderHttp(provider, key.Key, log), url, catalog);
    }

    public static ICloudProvider Create(string provider, ProviderHttp http, Uri baseUrl, Platforms.PlatformCatalog catalog) => provider switch
    {
        "runpod" => new RunPodApi(http, baseUrl, BaseUrl("runpod_rest", Environment.GetEnvironmentVariable)),
        "vastai" => new VastApi(http, baseUrl),
        "lambda" => new LambdaApi(http, baseUrl),
        "paperspace" => new PaperspaceApi(http, baseUrl, catalog.Get("paperspace")),
        _ => throw new RgtException("ProviderUnsupported", FailureKind.InvalidArgument,
            $"Listing offers through {provider}'s API is not supported; supported: {string.Join(", ", WithOffers)}."),
    };

    internal static Uri Join(Uri b, string path) => new(b.AbsoluteUri.TrimEnd('/') + "/" + path.TrimStart('/'));
}
