using System.Text.Json;
using RemoteGpuTrainer.Engine.Model;

namespace RemoteGpuTrainer.Engine.Providers;

/// <summary>
/// vast.ai's REST API: offers are "bundles" filtered with per-field operators; an instance is created by
/// accepting an ask, reads back as {"instances": {…}} (one object under a plural key), and is reached on
/// public_ipaddr at ports["22/tcp"][0].HostPort (a string). The SSH key is the account's.
/// </summary>
sealed class VastApi : ICloudProvider
{
    readonly ProviderHttp _http;
    readonly Uri _url;
    public VastApi(ProviderHttp http, Uri url) { _http = http; _url = url; }
    public string Name => "vastai";
    public bool CanStop => CloudProviders.Find(Name)!.CanStop;
    public void Dispose() => _http.Dispose();

    public async Task<string> CreateAsync(GpuOffer offer, RentalSpec spec, CancellationToken ct)
    {
        await EnsureAccountKeyAsync(spec.PublicKey, ct).ConfigureAwait(false);
        var body = new Dictionary<string, object?> { ["image"] = spec.Image, ["label"] = spec.Name, ["disk"] = spec.DiskGB, ["runtype"] = "ssh_direct" };
        if (offer.Interruptible) body["price"] = spec.BidPerHour ?? offer.HourlyPrice;
        var r = await _http.SendOnceAsync(HttpMethod.Put, CloudProviders.Join(_url, $"asks/{Uri.EscapeDataString(offer.OfferId)}/"), body, Classify, ct).ConfigureAwait(false);
        return r.Json is { } j && ProviderHttp.Str(j, "new_contract") is { Length: > 0 } id && id.All(char.IsAsciiDigit) ? id
            : throw new RgtException("ProviderError", FailureKind.InvalidData, $"vastai: the create answer has no new_contract: {ProviderHttp.Short(r.Body)}");
    }

    /// <summary>
    /// The account holds the public key the instance is created for (vast.ai puts the account's keys on its
    /// instances): listed first and added only when missing; the API's "already exists" is success.
    /// </summary>
    async Task EnsureAccountKeyAsync(string publicKey, CancellationToken ct)
    {
        var listed = await _http.SendAsync(HttpMethod.Get, CloudProviders.Join(_url, "ssh/"), null, Classify, ct).ConfigureAwait(false);
        // The list is a bare array; some answers wrap it ({"ssh_keys": […]} or {"keys": […]}).
        var keys = listed.Json switch
        {
            { ValueKind: JsonValueKind.Array } a => a,
            { ValueKind: JsonValueKind.Object } o when o.TryGetProperty("ssh_keys", out var k) && k.ValueKind == JsonValueKind.Array => k,
            { ValueKind: JsonValueKind.Object } o when o.TryGetProperty("keys", out var k) && k.ValueKind == JsonValueKind.Array => k,
            _ => throw new RgtException("ProviderError", FailureKind.InvalidData, $"vastai: the account's SSH key list is not a list: {ProviderHttp.Short(listed.Body)}"),
        };
        var mine = ProviderHttp.KeyText(publicKey);
        if (keys.EnumerateArray().Any(k => ProviderHttp.KeyText(ProviderHttp.Str(k, "public_key") ?? ProviderHttp.Str(k, "ssh_key")) == mine)) return;
        await _http.AddUnlessThereAsync(CloudProviders.Join(_url, "ssh/"), new Dictionary<string, string> { ["ssh_key"] = publicKey }, Classify, ct).ConfigureAwait(false);
    }

    public async Task<GpuRental> GetAsync(string id, CancellationToken ct)
    {
        var r = await _http.SendAsync(HttpMethod.Get, CloudProviders.Join(_url, $"instances/{Uri.EscapeDataString(id)}/"), null, ClassifyInstance, ct).ConfigureAwait(false);
        var j = ProviderHttp.Object(r.Json, Name, $"the answer for instance {id}", r.Body);
        return j.TryGetProperty("instances", out var one) && one.ValueKind == JsonValueKind.Object ? Instance(one)
            : throw new RgtException("RentalNotFound", FailureKind.NotFound, $"vastai: instance {id} is not listed: {ProviderHttp.Short(r.Body)}");
    }

    public async Task<IReadOnlyList<GpuRental>> ListAsync(CancellationToken ct)
    {
        var r = await _http.SendAsync(HttpMethod.Get, CloudProviders.Join(_url, "instances?owner=me"), null, ClassifyInstance, ct).ConfigureAwait(false);
        return ProviderHttp.Member(r, "instances", JsonValueKind.Array, Name, "the instance list is not a list").EnumerateArray()
            .Select(i => Instance(ProviderHttp.Object(i, Name, "an instance in the list", i.GetRawText()))).ToList();
    }

    public Task StopAsync(string id, CancellationToken ct) =>
        _http.SendAsync(HttpMethod.Put, CloudProviders.Join(_url, $"instances/{Uri.EscapeDataString(id)}/"), new Dictionary<string, string> { ["state"] = "stopped" }, ClassifyInstance, ct);

    public Task StartAsync(string id, CancellationToken ct) =>
        _http.SendAsync(HttpMethod.Put, CloudProviders.Join(_url, $"instances/{Uri.EscapeDataString(id)}/"), new Dictionary<string, string> { ["state"] = "running" }, ClassifyInstance, ct);

    public Task TerminateAsync(string id, CancellationToken ct) =>
        _http.SendAsync(HttpMethod.Delete, CloudProviders.Join(_url, $"instances/{Uri.EscapeDataString(id)}/"), null, ClassifyInstance, ct);

    static GpuRental Instance(JsonElement i)
    {
        var actual = ProviderHttp.Str(i, "actual_status");
        var message = ProviderHttp.Str(i, "status_msg");
        var ip = ProviderHttp.Str(i, "public_ipaddr")?.Trim();
        int? port = null;
        if (i.TryGetProperty("ports", out var ports) && ports.ValueKind == JsonValueKind.Object && ports.TryGetProperty("22/tcp", out var ssh)
            && ssh.ValueKind == JsonValueKind.Array && ssh.GetArrayLength() > 0) port = ProviderHttp.Port(ssh[0], "HostPort", "vastai", "ports[\"22/tcp\"][0].");
        string? host = ip;
        if (port is null && ProviderHttp.Str(i, "ssh_host") is { Length: > 0 } gateway && ProviderHttp.Port(i, "ssh_port", "vastai") is { } gp) { host = gateway; port = gp; }
        var interruptible = i.TryGetProperty("is_bid", out var bid) && bid.ValueKind == JsonValueKind.True;
        var state = message?.Contains("OCI runtime create failed", StringComparison.OrdinalIgnoreCase) == true ? nameof(RentalState.Failed)
            : actual switch
            {
                "running" when !string.IsNullOrEmpty(host) && port is not null => nameof(RentalState.Running),
                null or "loading" or "created" or "running" => nameof(RentalState.Provisioning),
                // An outbid interruptible instance is stopped (current, intended and next state all "stopped").
                "exited" or "stopped" when interruptible => nameof(RentalState.Preempted),
                "exited" or "stopped" => nameof(RentalState.Stopped),
                "offline" or "unknown" => nameof(RentalState.Failed),
                _ => nameof(RentalState.Unknown),
            };
        return new GpuRental
        {
            Provider = "vastai", RentalId = ProviderHttp.Str(i, "id") ?? "", Name = ProviderHttp.Str(i, "label"), State = state, ProviderState = actual ?? "null",
            Gpu = ProviderHttp.Str(i, "gpu_name"), GpuCount = ProviderHttp.Count(i, "num_gpus", "vastai"),
            HourlyPrice = ProviderHttp.Price(i, "dph_total", "vastai"),
            CreatedAt = ProviderHttp.Time(i, "start_date", "vastai", unixSeconds: true),
            Interruptible = interruptible,
            SshHost = host, SshPort = port, SshUser = "root", StatusMessage = message,
        };
    }

    static RgtException? ClassifyInstance(ProviderResponse r) => (int)r.Status switch
    {
        404 or 410 => new RgtException("RentalNotFound", FailureKind.NotFound, $"vastai: no such instance ({(int)r.Status}): {ProviderHttp.Short(r.Body)}"),
        _ => Classify(r),
    };

    public async Task<IReadOnlyList<GpuOffer>> ListOffersAsync(OfferQuery q, CancellationToken ct)
    {
        // vast names GPUs exactly ("A100 SXM4", "RTX 4090"): the model is matched here, the rest filtered there.
        var body = new Dictionary<string, object>
        {
            ["num_gpus"] = new { eq = q.GpuCount }, ["rentable"] = new { eq = true }, ["type"] = q.Interruptible ? "bid" : "ondemand",
            ["order"] = new[] { new[] { "dph_total", "asc" } }, ["limit"] = 500,
        };
        var r = await _http.SendAsync(HttpMethod.Post, CloudProviders.Join(_url, "bundles/"), body, Classify, ct).ConfigureAwait(false);
        var list = ProviderHttp.Member(r, "offers", JsonValueKind.Array, Name, "the answer has no offers list");
        var offers = new List<GpuOffer>();
        foreach (var o in list.EnumerateArray())
        {
            var price = ProviderHttp.Price(o, q.Interruptible ? "min_bid" : "dph_total", Name);
            if (price is null) continue;
            offers.Add(new GpuOffer
            {
                Provider = Name, OfferId = ProviderHttp.Str(o, "id") ?? "", Gpu = ProviderHttp.Str(o, "gpu_name") ?? "?",
                GpuCount = ProviderHttp.Count(o, "num_gpus", Name) ?? 0, GpuMemoryGB = ProviderHttp.Num(o, "gpu_ram") is { } mb ? Math.Round(mb / 1024, 1) : null,
                HourlyPrice = price.Value, Region = ProviderHttp.Str(o, "geolocation"), Interruptible = q.Interruptible,
                Reliability = ProviderHttp.Num(o, "reliability2"),
            });
        }
        return offers;
    }

    static RgtException? Classify(ProviderResponse r) => (int)r.Status switch
    {
        402 => new RgtException("InsufficientBalance", FailureKind.OperationFailed, $"vastai: {ProviderHttp.Short(r.Body)}"),
        404 or 410 => new RgtException("NoCapacity", FailureKind.ResourceBusy, $"vastai: that offer is no longer available ({(int)r.Status})."),
        400 => new RgtException("ProviderError", FailureKind.InvalidArgument, $"vastai: the request was refused: {ProviderHttp.Short(r.Body)}"),
        _ => null,
    };
}
