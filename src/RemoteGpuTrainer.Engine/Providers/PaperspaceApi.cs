using System.Globalization;
using System.Text.Json;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Scripts;

namespace RemoteGpuTrainer.Engine.Providers;

/// <summary>
/// Paperspace's machines API (api.paperspace.com/v1). It has no price endpoint: offers are the catalog's
/// stamped price table, each asked at GET /machine-availability for its region. A machine has no SSH-key
/// field either: the key goes in through a startup script (paperspace-startup.sh) that runs at boot. Its
/// dynamic public IP is new at every power-on. Lists come in pages ({hasMore, items, nextPage}).
/// </summary>
sealed class PaperspaceApi : ICloudProvider
{
    readonly ProviderHttp _http;
    readonly Uri _url;
    readonly GpuPlatform _platform;
    public PaperspaceApi(ProviderHttp http, Uri url, GpuPlatform platform) { _http = http; _url = url; _platform = platform; }
    public string Name => "paperspace";
    public bool CanStop => CloudProviders.Find(Name)!.CanStop;
    public void Dispose() => _http.Dispose();
    string User => _platform.SshUser ?? "paperspace";

    public async Task<IReadOnlyList<GpuOffer>> ListOffersAsync(OfferQuery q, CancellationToken ct)
    {
        if (_platform.PriceTable.Length == 0)
            throw new RgtException("PriceTableMissing", FailureKind.InvalidData, $"paperspace: the platform profile {_platform.SourceFile} has no price_table, and the API has no prices.");
        var offers = new List<GpuOffer>();
        if (q.Interruptible) return offers; // no spot machines
        var candidates = from price in _platform.PriceTable
                         from region in _platform.Regions
                         let offer = new GpuOffer
                         {
                             Provider = Name, OfferId = $"{price.MachineType}@{region}", Gpu = price.Gpu, GpuCount = price.GpuCount, GpuMemoryGB = price.GpuMemoryGB,
                             HourlyPrice = price.HourlyPrice, Region = region,
                         }
                         where q.Accepts(offer)
                         select (price.MachineType, region, offer);
        foreach (var (type, region, offer) in candidates)
        {
            var r = await _http.SendAsync(HttpMethod.Get, CloudProviders.Join(_url, $"machine-availability?machineType={Uri.EscapeDataString(type)}&region={Uri.EscapeDataString(region)}"), null, Classify, ct).ConfigureAwait(false);
            if (r.Json is { } j && j.TryGetProperty("available", out var a) && a.ValueKind == JsonValueKind.True)
                offers.Add(new GpuOffer
                {
                    Provider = offer.Provider, OfferId = offer.OfferId, Gpu = offer.Gpu, GpuCount = offer.GpuCount, GpuMemoryGB = offer.GpuMemoryGB,
                    HourlyPrice = offer.HourlyPrice, Region = region, Availability = $"Available (list price {_platform.Verified.GetValueOrDefault("price_table", "unstamped")})",
                });
        }
        return offers;
    }

    public async Task<string> CreateAsync(GpuOffer offer, RentalSpec spec, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(spec.Image))
            throw new RgtException("ImageRequired", FailureKind.InvalidArgument,
                "paperspace: a machine is created from an OS template, whose id is your account's: pass -Image <templateId> (console: Create machine, or GET /v1/templates), or set default_image in a paperspace profile of your own.");
        var at = offer.OfferId.LastIndexOf('@');
        var scriptId = await StartupScriptAsync(spec.PublicKey, ct).ConfigureAwait(false);
        var body = new Dictionary<string, object>
        {
            ["name"] = spec.Name, ["machineType"] = at > 0 ? offer.OfferId[..at] : offer.OfferId, ["templateId"] = spec.Image,
            ["region"] = offer.Region ?? offer.OfferId[(at + 1)..], ["diskSize"] = spec.DiskGB, ["publicIpType"] = "dynamic",
            ["startupScriptId"] = scriptId, ["startOnCreate"] = true,
        };
        var r = await _http.SendOnceAsync(HttpMethod.Post, CloudProviders.Join(_url, "machines"), body, Classify, ct).ConfigureAwait(false);
        return ProviderHttp.Str(Data(r), "id") is { Length: > 0 } id ? id
            : throw new RgtException("ProviderError", FailureKind.InvalidData, $"paperspace: the create answer has no machine id: {ProviderHttp.Short(r.Body)}");
    }

    /// <summary>
    /// The startup script that puts this key in: one per key and script version, named after their hash and
    /// reused by every rental that needs it, so the account does not pile up one script per machine.
    /// </summary>
    async Task<string> StartupScriptAsync(string publicKey, CancellationToken ct)
    {
        var script = BoxScript.Load("paperspace-startup").Set("PUBLIC_KEY", publicKey).Set("SSH_USER", User).Text;
        var name = "rgt-ssh-" + Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(script)))[..12].ToLowerInvariant();
        var listed = await _http.SendAsync(HttpMethod.Get, CloudProviders.Join(_url, "startup-scripts?limit=120"), null, Classify, ct).ConfigureAwait(false);
        var items = Data(listed) is { ValueKind: JsonValueKind.Object } l && l.TryGetProperty("items", out var i) && i.ValueKind == JsonValueKind.Array ? i.EnumerateArray().ToList() : new();
        if (items.FirstOrDefault(x => ProviderHttp.Str(x, "name") == name && ProviderHttp.Str(x, "dtDeleted") is null) is { ValueKind: JsonValueKind.Object } found
            && ProviderHttp.Str(found, "id") is { Length: > 0 } existing)
            return existing;
        var created = await _http.SendAsync(HttpMethod.Post, CloudProviders.Join(_url, "startup-scripts"),
            new Dictionary<string, object> { ["name"] = name, ["script"] = script, ["isRunOnce"] = false }, Classify, ct).ConfigureAwait(false);
        return ProviderHttp.Str(Data(created), "id") is { Length: > 0 } sid ? sid
            : throw new RgtException("ProviderError", FailureKind.InvalidData, $"paperspace: the startup script answer has no id: {ProviderHttp.Short(created.Body)}");
    }

    /// <summary>The machine object: under "data" in a create's answer, the answer itself elsewhere.</summary>
    static JsonElement Data(ProviderResponse r) =>
        r.Json is { ValueKind: JsonValueKind.Object } j ? (j.TryGetProperty("data", out var d) && d.ValueKind == JsonValueKind.Object ? d : j) : default;

    public async Task<GpuRental> GetAsync(string id, CancellationToken ct)
    {
        var r = await _http.SendAsync(HttpMethod.Get, CloudProviders.Join(_url, "machines/" + Uri.EscapeDataString(id)), null, Classify, ct).ConfigureAwait(false);
        return Machine(ProviderHttp.Object(Data(r), Name, $"the answer for machine {id}", r.Body));
    }

    public async Task<IReadOnlyList<GpuRental>> ListAsync(CancellationToken ct)
    {
        var all = new List<GpuRental>();
        string? after = null;
        for (var page = 0; page < 100; page++)
        {
            var r = await _http.SendAsync(HttpMethod.Get, CloudProviders.Join(_url, "machines?limit=120" + (after is null ? "" : "&after=" + Uri.EscapeDataString(after))), null, Classify, ct).ConfigureAwait(false);
            all.AddRange(ProviderHttp.Member(r, "items", JsonValueKind.Array, Name, "the machine list has no items").EnumerateArray().Select(m => Machine(ProviderHttp.Object(m, Name, "a machine in the list", m.GetRawText()))));
            var more = r.Json!.Value.TryGetProperty("hasMore", out var h) && h.ValueKind == JsonValueKind.True;
            after = ProviderHttp.Str(r.Json.Value, "nextPage");
            if (!more) return all;
            if (string.IsNullOrEmpty(after))
                throw new RgtException("ProviderError", FailureKind.InvalidData, "paperspace: the machine list says there is more but gives no nextPage cursor; the list would be incomplete.");
        }
        throw new RgtException("ProviderError", FailureKind.InvalidData, "paperspace: the machine list did not end after 100 pages.");
    }

    public Task StopAsync(string id, CancellationToken ct) =>
        _http.SendAsync(HttpMethod.Patch, CloudProviders.Join(_url, $"machines/{Uri.EscapeDataString(id)}/stop"), null, Classify, ct);

    public Task StartAsync(string id, CancellationToken ct) =>
        _http.SendAsync(HttpMethod.Patch, CloudProviders.Join(_url, $"machines/{Uri.EscapeDataString(id)}/start"), null, Classify, ct);

    public Task TerminateAsync(string id, CancellationToken ct) =>
        _http.SendAsync(HttpMethod.Delete, CloudProviders.Join(_url, "machines/" + Uri.EscapeDataString(id)), null, Classify, ct);

    GpuRental Machine(JsonElement m)
    {
        var state = ProviderHttp.Str(m, "state") ?? "";
        var ip = ProviderHttp.Str(m, "publicIp");
        var type = ProviderHttp.Str(m, "machineType");
        var price = _platform.PriceTable.FirstOrDefault(p => string.Equals(p.MachineType, type, StringComparison.OrdinalIgnoreCase));
        return new GpuRental
        {
            Provider = Name, RentalId = ProviderHttp.Str(m, "id") ?? "", Name = ProviderHttp.Str(m, "name"), ProviderState = state,
            State = state switch
            {
                "ready" or "serviceready" when !string.IsNullOrEmpty(ip) => nameof(RentalState.Running),
                "ready" or "serviceready" or "provisioning" or "starting" or "restarting" or "upgrading" => nameof(RentalState.Provisioning),
                "stopping" => nameof(RentalState.Stopping),
                "off" => nameof(RentalState.Stopped),
                _ => nameof(RentalState.Unknown),
            },
            Gpu = price?.Gpu ?? type, GpuCount = price?.GpuCount, HourlyPrice = price?.HourlyPrice,
            CreatedAt = ProviderHttp.Time(m, "dtCreated", Name),
            SshHost = string.IsNullOrEmpty(ip) ? null : ip, SshPort = 22, SshUser = User,
        };
    }

    static RgtException? Classify(ProviderResponse r)
    {
        if ((int)r.Status < 400) return null;
        var text = r.Json is { ValueKind: JsonValueKind.Object } j ? ProviderHttp.Str(j, "message") ?? ProviderHttp.Str(j, "error") ?? r.Body : r.Body;
        return (int)r.Status switch
        {
            402 => new RgtException("InsufficientBalance", FailureKind.OperationFailed, $"paperspace: {text}"),
            404 => new RgtException("RentalNotFound", FailureKind.NotFound, $"paperspace: {text}"),
            400 or 409 or 422 when text.Contains("capacity", StringComparison.OrdinalIgnoreCase) || text.Contains("not available", StringComparison.OrdinalIgnoreCase)
                => new RgtException("NoCapacity", FailureKind.ResourceBusy, $"paperspace: {text}"),
            400 or 409 or 422 when text.Contains("billing", StringComparison.OrdinalIgnoreCase) || text.Contains("payment", StringComparison.OrdinalIgnoreCase)
                => new RgtException("InsufficientBalance", FailureKind.OperationFailed, $"paperspace: {text}"),
            429 or >= 500 or 401 or 403 => null,
            _ => new RgtException("ProviderError", FailureKind.OperationFailed, $"paperspace: HTTP {(int)r.Status}: {ProviderHttp.Short(text)}"),
        };
    }
}
