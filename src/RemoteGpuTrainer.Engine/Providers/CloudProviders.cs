using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using RemoteGpuTrainer.Engine.Model;

namespace RemoteGpuTrainer.Engine.Providers;

/// <summary>A cloud provider's API as Get-GpuOffer uses it.</summary>
public interface ICloudProvider
{
    string Name { get; }
    Task<IReadOnlyList<GpuOffer>> ListOffersAsync(OfferQuery query, CancellationToken ct);
}

public static class CloudProviders
{
    /// <summary>The providers whose offers can be listed through their APIs.</summary>
    public static readonly string[] WithOffers = { "runpod", "vastai", "lambda" };

    static readonly Dictionary<string, string> DefaultUrls = new(StringComparer.Ordinal)
    {
        ["runpod"] = "https://api.runpod.io/graphql", ["vastai"] = "https://console.vast.ai/api/v0",
        ["lambda"] = "https://cloud.lambda.ai/api/v1", ["paperspace"] = "https://api.paperspace.com/v1",
    };

    /// <summary>RGT_&lt;PROVIDER&gt;_API_URL (tests, corporate proxies), else the provider's own address.</summary>
    public static Uri BaseUrl(string provider, Func<string, string?> environment)
    {
        var name = $"RGT_{provider.ToUpperInvariant()}_API_URL";
        var text = environment(name) is { Length: > 0 } v ? v : DefaultUrls[provider];
        return Uri.TryCreate(text.TrimEnd('/'), UriKind.Absolute, out var u) && (u.Scheme == "https" || u.Scheme == "http")
            ? u : throw new RgtException("ProviderUrlInvalid", FailureKind.InvalidArgument, $"${name} is '{text}', not an http(s) URL.");
    }

    public static ICloudProvider Create(string provider, ProviderHttp http, Uri baseUrl) => provider switch
    {
        "runpod" => new RunPodApi(http, baseUrl),
        "vastai" => new VastApi(http, baseUrl),
        "lambda" => new LambdaApi(http, baseUrl),
        _ => throw new RgtException("ProviderUnsupported", FailureKind.InvalidArgument,
            $"Listing offers through {provider}'s API is not supported; supported: {string.Join(", ", WithOffers)}."),
    };

    internal static Uri Join(Uri b, string path) => new(b.AbsoluteUri.TrimEnd('/') + "/" + path.TrimStart('/'));
}

/// <summary>RunPod's GraphQL API: errors arrive as HTTP 200 with an "errors" array.</summary>
sealed class RunPodApi : ICloudProvider
{
    readonly ProviderHttp _http;
    readonly Uri _url;
    public RunPodApi(ProviderHttp http, Uri url) { _http = http; _url = url; }
    public string Name => "runpod";

    public async Task<IReadOnlyList<GpuOffer>> ListOffersAsync(OfferQuery q, CancellationToken ct)
    {
        var query = "query GpuTypes { gpuTypes { id displayName memoryInGb maxGpuCount lowestPrice(input: {gpuCount: "
            + q.GpuCount.ToString(CultureInfo.InvariantCulture) + "}) { minimumBidPrice uninterruptablePrice stockStatus } } }";
        var r = await _http.SendAsync(HttpMethod.Post, _url, new { query }, Classify, ct).ConfigureAwait(false);
        var offers = new List<GpuOffer>();
        if (r.Json is not { } root || !root.TryGetProperty("data", out var data) || !data.TryGetProperty("gpuTypes", out var types) || types.ValueKind != JsonValueKind.Array)
            throw new RgtException("ProviderError", FailureKind.InvalidData, $"runpod: the answer has no data.gpuTypes: {ProviderHttp.Short(r.Body)}");
        foreach (var t in types.EnumerateArray())
        {
            if (!t.TryGetProperty("lowestPrice", out var lp) || lp.ValueKind != JsonValueKind.Object || ProviderHttp.Str(lp, "stockStatus") is not { } stock) continue;
            if (ProviderHttp.Num(t, "maxGpuCount") is { } max && max < q.GpuCount) continue;
            var perGpu = ProviderHttp.Num(lp, q.Interruptible ? "minimumBidPrice" : "uninterruptablePrice");
            if (perGpu is null or <= 0) continue;
            offers.Add(new GpuOffer
            {
                Provider = Name, OfferId = ProviderHttp.Str(t, "id") ?? "", Gpu = ProviderHttp.Str(t, "displayName") ?? ProviderHttp.Str(t, "id") ?? "?",
                GpuCount = q.GpuCount, GpuMemoryGB = ProviderHttp.Num(t, "memoryInGb"), HourlyPrice = Math.Round((decimal)perGpu.Value * q.GpuCount, 4),
                Interruptible = q.Interruptible, Availability = stock,
            });
        }
        return offers;
    }

    static RgtException? Classify(ProviderResponse r)
    {
        if (r.Json is not { } root || !root.TryGetProperty("errors", out var errors) || errors.ValueKind != JsonValueKind.Array || errors.GetArrayLength() == 0) return null;
        var message = string.Join("; ", errors.EnumerateArray().Select(e => ProviderHttp.Str(e, "message") ?? e.GetRawText()));
        return message switch
        {
            _ when Regex.IsMatch(message, "unauthori[sz]ed|api key|authentication", RegexOptions.IgnoreCase) => new RgtException("ProviderAuthFailed", FailureKind.AuthenticationError, $"runpod: the API key was refused: {message}"),
            _ when message.Contains("no longer any instances available", StringComparison.OrdinalIgnoreCase) => new RgtException("NoCapacity", FailureKind.ResourceBusy, $"runpod: {message}"),
            _ when message.Contains("balance", StringComparison.OrdinalIgnoreCase) => new RgtException("InsufficientBalance", FailureKind.OperationFailed, $"runpod: {message}"),
            _ => new RgtException("ProviderError", FailureKind.OperationFailed, $"runpod: {message}"),
        };
    }
}

/// <summary>vast.ai's REST API: offers are "bundles", filtered with per-field operators.</summary>
sealed class VastApi : ICloudProvider
{
    readonly ProviderHttp _http;
    readonly Uri _url;
    public VastApi(ProviderHttp http, Uri url) { _http = http; _url = url; }
    public string Name => "vastai";

    public async Task<IReadOnlyList<GpuOffer>> ListOffersAsync(OfferQuery q, CancellationToken ct)
    {
        // vast names GPUs exactly ("A100 SXM4", "RTX 4090"): the model is matched here, the rest filtered there.
        var body = new Dictionary<string, object>
        {
            ["num_gpus"] = new { eq = q.GpuCount }, ["rentable"] = new { eq = true }, ["type"] = q.Interruptible ? "bid" : "ondemand",
            ["order"] = new[] { new[] { "dph_total", "asc" } }, ["limit"] = 500,
        };
        var r = await _http.SendAsync(HttpMethod.Post, CloudProviders.Join(_url, "bundles/"), body, Classify, ct).ConfigureAwait(false);
        if (r.Json is not { } root || !root.TryGetProperty("offers", out var list) || list.ValueKind != JsonValueKind.Array)
            throw new RgtException("ProviderError", FailureKind.InvalidData, $"vastai: the answer has no offers list: {ProviderHttp.Short(r.Body)}");
        var offers = new List<GpuOffer>();
        foreach (var o in list.EnumerateArray())
        {
            var price = ProviderHttp.Num(o, q.Interruptible ? "min_bid" : "dph_total");
            if (price is null) continue;
            offers.Add(new GpuOffer
            {
                Provider = Name, OfferId = ProviderHttp.Str(o, "id") ?? "", Gpu = ProviderHttp.Str(o, "gpu_name") ?? "?",
                GpuCount = (int)(ProviderHttp.Num(o, "num_gpus") ?? 0), GpuMemoryGB = ProviderHttp.Num(o, "gpu_ram") is { } mb ? Math.Round(mb / 1024, 1) : null,
                HourlyPrice = Math.Round((decimal)price.Value, 4), Region = ProviderHttp.Str(o, "geolocation"), Interruptible = q.Interruptible,
                Reliability = ProviderHttp.Num(o, "reliability2"),
            });
        }
        return offers;
    }

    static RgtException? Classify(ProviderResponse r) => (int)r.Status switch
    {
        402 => new RgtException("InsufficientBalance", FailureKind.OperationFailed, $"vastai: {ProviderHttp.Short(r.Body)}"),
        404 or 410 => new RgtException("NoCapacity", FailureKind.ResourceBusy, $"vastai: that offer is no longer available ({(int)r.Status})."),
        _ => null,
    };
}

/// <summary>Lambda Cloud's REST API: {"data": …} or {"error": {"code", "message", "suggestion"}}.</summary>
sealed class LambdaApi : ICloudProvider
{
    readonly ProviderHttp _http;
    readonly Uri _url;
    public LambdaApi(ProviderHttp http, Uri url) { _http = http; _url = url; }
    public string Name => "lambda";

    public async Task<IReadOnlyList<GpuOffer>> ListOffersAsync(OfferQuery q, CancellationToken ct)
    {
        var r = await _http.SendAsync(HttpMethod.Get, CloudProviders.Join(_url, "instance-types"), null, Classify, ct).ConfigureAwait(false);
        if (r.Json is not { } root || !root.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Object)
            throw new RgtException("ProviderError", FailureKind.InvalidData, $"lambda: the answer has no data: {ProviderHttp.Short(r.Body)}");
        var offers = new List<GpuOffer>();
        if (q.Interruptible) return offers; // Lambda has no spot instances
        foreach (var entry in data.EnumerateObject())
        {
            if (!entry.Value.TryGetProperty("instance_type", out var type)) continue;
            var description = ProviderHttp.Str(type, "description") ?? entry.Name;
            var gpus = type.TryGetProperty("specs", out var specs) ? (int)(ProviderHttp.Num(specs, "gpus") ?? 0) : 0;
            var cents = ProviderHttp.Num(type, "price_cents_per_hour");
            if (cents is null || gpus == 0) continue;
            // "8x H100 (80 GB SXM5)": the model is what follows the count.
            var gpu = Regex.Match(description, @"^\s*\d+x\s+(.+)$") is { Success: true } m ? m.Groups[1].Value.Trim() : description;
            var memory = Regex.Match(description, @"(\d+)\s*GB", RegexOptions.IgnoreCase) is { Success: true } g ? double.Parse(g.Groups[1].Value, CultureInfo.InvariantCulture) : (double?)null;
            if (!entry.Value.TryGetProperty("regions_with_capacity_available", out var regions) || regions.ValueKind != JsonValueKind.Array) continue;
            foreach (var region in regions.EnumerateArray())
            {
                var name = ProviderHttp.Str(region, "name") ?? "?";
                offers.Add(new GpuOffer
                {
                    Provider = Name, OfferId = $"{ProviderHttp.Str(type, "name") ?? entry.Name}@{name}", Gpu = gpu, GpuCount = gpus, GpuMemoryGB = memory,
                    HourlyPrice = Math.Round((decimal)cents.Value / 100, 4), Region = name, Availability = "Available",
                });
            }
        }
        return offers;
    }

    static RgtException? Classify(ProviderResponse r)
    {
        if (r.Json is not { } root || !root.TryGetProperty("error", out var error) || error.ValueKind != JsonValueKind.Object) return null;
        var code = ProviderHttp.Str(error, "code") ?? "";
        var text = $"lambda: {ProviderHttp.Str(error, "message")}{(ProviderHttp.Str(error, "suggestion") is { Length: > 0 } s ? " — " + s : "")} ({code})";
        return code switch
        {
            "global/invalid-api-key" => new RgtException("ProviderAuthFailed", FailureKind.AuthenticationError, text),
            "instance-operations/launch/insufficient-capacity" => new RgtException("NoCapacity", FailureKind.ResourceBusy, text),
            "global/quota-exceeded" => new RgtException("QuotaExceeded", FailureKind.ResourceBusy, text),
            "global/object-does-not-exist" => new RgtException("RentalNotFound", FailureKind.NotFound, text),
            _ when r.Status == HttpStatusCode.TooManyRequests => null,
            _ => new RgtException("ProviderError", FailureKind.OperationFailed, text),
        };
    }
}
