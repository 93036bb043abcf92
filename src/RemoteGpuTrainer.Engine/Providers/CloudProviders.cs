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

/// <summary>
/// One cloud provider, in the one table every provider-aware place reads: its name as the user types
/// it, where its key comes from (the environment variable, then the provider CLI's key files, relative
/// to the home folder, each with how the key is written there), its API's address, its console, what
/// it can do, and how its API is made.
/// </summary>
public sealed record ProviderInfo(
    string Name, string KeyVariable, IReadOnlyList<(string Path, Func<string, string?> Read)> KeyFiles, string DefaultUrl, string Console,
    bool CanStop, bool OfferRentableOnce, Func<ProviderHttp, Uri, Platforms.PlatformCatalog, ICloudProvider> Create);

public static class CloudProviders
{
    /// <summary>Every provider whose offers and instances the module handles through its API.</summary>
    public static readonly IReadOnlyList<ProviderInfo> Table = new ProviderInfo[]
    {
        // runpodctl: ~/.runpod/config.toml (apikey = "…"); older versions ~/.runpod.yaml (apikey: …). Pods are REST, offers GraphQL.
        new("runpod", "RUNPOD_API_KEY", new (string, Func<string, string?>)[] { (".runpod/config.toml", ApiKeys.Assignment), (".runpod.yaml", ApiKeys.Assignment) },
            "https://api.runpod.io/graphql", "https://www.runpod.io/console/pods", CanStop: true, OfferRentableOnce: false,
            (http, url, _) => new RunPodApi(http, url, BaseUrl("runpod_rest", Environment.GetEnvironmentVariable))),
        // vastai set api-key: ~/.config/vastai/vast_api_key, older versions ~/.vast_api_key (the key alone). An ask is one machine.
        new("vastai", "VAST_API_KEY", new (string, Func<string, string?>)[] { (".config/vastai/vast_api_key", ApiKeys.Whole), (".vast_api_key", ApiKeys.Whole) },
            "https://console.vast.ai/api/v0", "https://cloud.vast.ai/instances/", CanStop: true, OfferRentableOnce: true,
            (http, url, _) => new VastApi(http, url)),
        // Lambda has no CLI of its own; SkyPilot keeps the key in ~/.lambda_cloud/lambda_keys (api_key = …). No stop.
        new("lambda", "LAMBDA_API_KEY", new (string, Func<string, string?>)[] { (".lambda_cloud/lambda_keys", ApiKeys.Assignment) },
            "https://cloud.lambda.ai/api/v1", "https://cloud.lambda.ai/instances", CanStop: false, OfferRentableOnce: false,
            (http, url, _) => new LambdaApi(http, url)),
        // the Paperspace CLI: ~/.paperspace/config.json {"apiKey": "…"}
        new("paperspace", "PAPERSPACE_API_KEY", new (string, Func<string, string?>)[] { (".paperspace/config.json", ApiKeys.JsonApiKey) },
            "https://api.paperspace.com/v1", "https://console.paperspace.com/machines", CanStop: true, OfferRentableOnce: false,
            (http, url, catalog) => new PaperspaceApi(http, url, catalog.Get("paperspace"))),
    };

    /// <summary>The providers' names, as -Provider takes them.</summary>
    public static readonly string[] WithOffers = Table.Select(p => p.Name).ToArray();

    /// <summary>
    /// The providers one call asks: those named (once each), else <paramref name="byDefault"/> (those with a key
    /// here, or that the inventory came from). None is ProviderKeyMissing naming every key variable of the table,
    /// followed by <paramref name="whatToDo"/>; an -ApiKey with more or fewer than one provider is ApiKeyAmbiguous.
    /// </summary>
    public static List<string> ToAsk(IEnumerable<string>? named, Func<IEnumerable<string>> byDefault, bool keyGiven, string whatToDo)
    {
        var ask = (named ?? byDefault()).Select(p => p.ToLowerInvariant()).Distinct().ToList();
        if (ask.Count == 0)
            throw new RgtException("ProviderKeyMissing", FailureKind.AuthenticationError,
                $"No provider to ask: no API key is set ({string.Join(", ", Table.Select(p => p.KeyVariable))} or a provider CLI's key file){whatToDo}");
        if (keyGiven && ask.Count != 1)
            throw new RgtException("ApiKeyAmbiguous", FailureKind.InvalidArgument, "-ApiKey belongs to one provider: name exactly one with -Provider (the others read their keys from the environment or their CLI's key file).");
        return ask;
    }

    /// <summary>The provider of that name, or null.</summary>
    public static ProviderInfo? Find(string? name) => Table.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));

    static ProviderInfo Get(string name) => Find(name) ?? throw new RgtException("ProviderUnsupported", FailureKind.InvalidArgument,
        $"'{name}' is not a provider the module drives through its API; supported: {string.Join(", ", WithOffers)}.");

    /// <summary>Where to act by hand on a provider's instances.</summary>
    public static string Console(string provider) => Find(provider)?.Console ?? provider;

    /// <summary>Whether the host was created through a provider's API (New-GpuRental -Offer or -Provider), so the API can stop, start or terminate it.</summary>
    public static bool Manages(GpuHost host) => Find(host.Provider) is not null && !string.IsNullOrEmpty(host.RentalId);

    /// <summary>RGT_&lt;PROVIDER&gt;_API_URL (tests, corporate proxies), else the provider's own address (runpod_rest: RunPod's pod API).</summary>
    public static Uri BaseUrl(string provider, Func<string, string?> environment)
    {
        var name = $"RGT_{provider.ToUpperInvariant()}_API_URL";
        var text = environment(name) is { Length: > 0 } v ? v : provider == "runpod_rest" ? "https://rest.runpod.io/v1" : Get(provider).DefaultUrl;
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
        return Create(provider, new ProviderHttp(provider, key.Key, log, Timeout(Environment.GetEnvironmentVariable)), url, catalog);
    }

    /// <summary>RGT_PROVIDER_TIMEOUT: seconds a provider call may take before it is given up (1 to 600; default 60).</summary>
    public static TimeSpan? Timeout(Func<string, string?> environment)
    {
        var text = environment("RGT_PROVIDER_TIMEOUT");
        if (string.IsNullOrEmpty(text)) return null;
        return double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var s) && s is >= 1 and <= 600
            ? TimeSpan.FromSeconds(s)
            : throw new RgtException("ProviderTimeoutInvalid", FailureKind.InvalidArgument, $"$RGT_PROVIDER_TIMEOUT is '{text}', not a number of seconds from 1 to 600.");
    }

    public static ICloudProvider Create(string provider, ProviderHttp http, Uri baseUrl, Platforms.PlatformCatalog catalog) => Get(provider).Create(http, baseUrl, catalog);

    internal static Uri Join(Uri b, string path) => new(b.AbsoluteUri.TrimEnd('/') + "/" + path.TrimStart('/'));
}
