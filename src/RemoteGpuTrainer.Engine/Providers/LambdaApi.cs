using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using RemoteGpuTrainer.Engine.Model;

namespace RemoteGpuTrainer.Engine.Providers;

/// <summary>
/// Lambda Cloud's REST API: {"data": …} or {"error": {"code", "message", "suggestion"}}. A launch names
/// exactly one registered SSH key (ours is registered under a name of its own first). There is no stop.
/// </summary>
sealed class LambdaApi : ICloudProvider
{
    readonly ProviderHttp _http;
    readonly Uri _url;
    public LambdaApi(ProviderHttp http, Uri url) { _http = http; _url = url; }
    public string Name => "lambda";
    public bool CanStop => CloudProviders.Find(Name)!.CanStop;
    public void Dispose() => _http.Dispose();

    public async Task<string> CreateAsync(GpuOffer offer, RentalSpec spec, CancellationToken ct)
    {
        var keyName = await KeyNameAsync(spec.PublicKey, ct).ConfigureAwait(false);
        var at = offer.OfferId.LastIndexOf('@');
        var body = new Dictionary<string, object>
        {
            ["region_name"] = offer.Region ?? offer.OfferId[(at + 1)..], ["instance_type_name"] = at > 0 ? offer.OfferId[..at] : offer.OfferId,
            ["ssh_key_names"] = new[] { keyName }, ["name"] = spec.Name,
        };
        var r = await _http.SendOnceAsync(HttpMethod.Post, CloudProviders.Join(_url, "instance-operations/launch"), body, Classify, ct).ConfigureAwait(false);
        return r.Json is { ValueKind: JsonValueKind.Object } j && j.TryGetProperty("data", out var d) && d.ValueKind == JsonValueKind.Object && d.TryGetProperty("instance_ids", out var ids)
            && ids.ValueKind == JsonValueKind.Array && ids.GetArrayLength() > 0 && ids[0].ValueKind == JsonValueKind.String && ids[0].GetString() is { Length: > 0 } id ? id : throw new RgtException("ProviderError", FailureKind.InvalidData, $"lambda: the launch answer has no instance id: {ProviderHttp.Short(r.Body)}");
    }

    /// <summary>The name under which the public key is registered, registering it when it is not.</summary>
    async Task<string> KeyNameAsync(string publicKey, CancellationToken ct)
    {
        var keyText = ProviderHttp.KeyText(publicKey);
        var r = await _http.SendAsync(HttpMethod.Get, CloudProviders.Join(_url, "ssh-keys"), null, Classify, ct).ConfigureAwait(false);
        if (r.Json is { } j && j.TryGetProperty("data", out var keys) && keys.ValueKind == JsonValueKind.Array)
            foreach (var k in keys.EnumerateArray())
                if (ProviderHttp.KeyText(ProviderHttp.Str(k, "public_key")) == keyText)
                    return ProviderHttp.Str(k, "name")!;
        var name = "rgt-" + Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(keyText)))[..12].ToLowerInvariant();
        // The name comes from the key: a name the account has already holds this key (added by an earlier try).
        await _http.AddUnlessThereAsync(CloudProviders.Join(_url, "ssh-keys"), new Dictionary<string, string> { ["name"] = name, ["public_key"] = publicKey }, Classify, ct).ConfigureAwait(false);
        return name;
    }

    public async Task<GpuRental> GetAsync(string id, CancellationToken ct)
    {
        var r = await _http.SendAsync(HttpMethod.Get, CloudProviders.Join(_url, "instances/" + Uri.EscapeDataString(id)), null, Classify, ct).ConfigureAwait(false);
        return Instance(ProviderHttp.Member(r, "data", JsonValueKind.Object, Name, "the answer has no data"));
    }

    public async Task<IReadOnlyList<GpuRental>> ListAsync(CancellationToken ct)
    {
        var r = await _http.SendAsync(HttpMethod.Get, CloudProviders.Join(_url, "instances"), null, Classify, ct).ConfigureAwait(false);
        return ProviderHttp.Member(r, "data", JsonValueKind.Array, Name, "the instance list is not a list").EnumerateArray()
            .Select(i => Instance(ProviderHttp.Object(i, Name, "an instance in the list", i.GetRawText()))).ToList();
    }

    public Task StopAsync(string id, CancellationToken ct) => throw new RgtException("StopUnsupported", FailureKind.InvalidArgument,
        "Lambda has no stop: an instance bills until it is terminated, and its local disk goes with it. Use -Action Release once the results are verified.");

    public Task StartAsync(string id, CancellationToken ct) => throw new RgtException("StartUnsupported", FailureKind.InvalidArgument,
        "Lambda has no stop, so there is nothing to start: an instance runs until it is terminated.");

    public Task TerminateAsync(string id, CancellationToken ct) =>
        _http.SendAsync(HttpMethod.Post, CloudProviders.Join(_url, "instance-operations/terminate"), new Dictionary<string, string[]> { ["instance_ids"] = new[] { id } }, Classify, ct);

    static GpuRental Instance(JsonElement i)
    {
        var status = ProviderHttp.Str(i, "status") ?? "";
        var ip = ProviderHttp.Str(i, "ip");
        var type = i.TryGetProperty("instance_type", out var t) && t.ValueKind == JsonValueKind.Object ? t : default;
        return new GpuRental
        {
            Provider = "lambda", RentalId = ProviderHttp.Str(i, "id") ?? "", Name = ProviderHttp.Str(i, "name"), ProviderState = status,
            State = status switch
            {
                "active" when !string.IsNullOrEmpty(ip) => nameof(RentalState.Running),
                "active" or "booting" => nameof(RentalState.Provisioning),
                "terminated" or "terminating" => nameof(RentalState.Terminated),
                "preempted" => nameof(RentalState.Preempted),
                "unhealthy" => nameof(RentalState.Failed),
                _ => nameof(RentalState.Unknown),
            },
            Gpu = type.ValueKind == JsonValueKind.Object ? ProviderHttp.Str(type, "description") : null,
            HourlyPrice = type.ValueKind == JsonValueKind.Object ? ProviderHttp.Price(type, "price_cents_per_hour", "lambda", "instance_type.", scale: 100) : null,
            SshHost = string.IsNullOrEmpty(ip) ? null : ip, SshPort = 22, SshUser = "ubuntu",
        };
    }

    public async Task<IReadOnlyList<GpuOffer>> ListOffersAsync(OfferQuery q, CancellationToken ct)
    {
        var r = await _http.SendAsync(HttpMethod.Get, CloudProviders.Join(_url, "instance-types"), null, Classify, ct).ConfigureAwait(false);
        var data = ProviderHttp.Member(r, "data", JsonValueKind.Object, Name, "the answer has no data");
        var offers = new List<GpuOffer>();
        if (q.Interruptible) return offers; // Lambda has no spot instances
        foreach (var entry in data.EnumerateObject())
        {
            if (!entry.Value.TryGetProperty("instance_type", out var type)) continue;
            var description = ProviderHttp.Str(type, "description") ?? entry.Name;
            var gpus = type.TryGetProperty("specs", out var specs) ? (int)(ProviderHttp.Num(specs, "gpus") ?? 0) : 0;
            var price = ProviderHttp.Price(type, "price_cents_per_hour", Name, "instance_type.", scale: 100);
            if (price is null || gpus == 0) continue;
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
                    HourlyPrice = price.Value, Region = name, Availability = "Available",
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
