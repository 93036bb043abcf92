using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using RemoteGpuTrainer.Engine.Model;

namespace RemoteGpuTrainer.Engine.Providers;

/// <summary>
/// RunPod: offers through GraphQL (errors arrive as HTTP 200 with an "errors" array), pods through REST
/// v1. A pod has no SSH-key field: the key goes in its env as PUBLIC_KEY, which RunPod images append
/// to authorized_keys; SSH is root on publicIp at the port mapped to 22.
/// </summary>
sealed class RunPodApi : ICloudProvider
{
    readonly ProviderHttp _http;
    readonly Uri _url;
    readonly Uri _rest;
    public RunPodApi(ProviderHttp http, Uri url, Uri rest) { _http = http; _url = url; _rest = rest; }
    public string Name => "runpod";
    public bool CanStop => CloudProviders.Find(Name)!.CanStop;
    public void Dispose() => _http.Dispose();

    public async Task<string> CreateAsync(GpuOffer offer, RentalSpec spec, CancellationToken ct)
    {
        var body = new Dictionary<string, object?>
        {
            ["name"] = spec.Name, ["imageName"] = spec.Image, ["gpuTypeIds"] = new[] { offer.OfferId }, ["gpuCount"] = offer.GpuCount,
            ["cloudType"] = "SECURE", ["supportPublicIp"] = true, ["ports"] = new[] { "22/tcp" }, ["containerDiskInGb"] = spec.DiskGB,
            ["env"] = new Dictionary<string, string> { ["PUBLIC_KEY"] = spec.PublicKey }, ["interruptible"] = offer.Interruptible,
        };
        var r = await _http.SendOnceAsync(HttpMethod.Post, CloudProviders.Join(_rest, "pods"), body, ClassifyRest, ct).ConfigureAwait(false);
        return r.Json is { } j && ProviderHttp.Str(j, "id") is { Length: > 0 } id ? id
            : throw new RgtException("ProviderError", FailureKind.InvalidData, $"runpod: the create answer has no pod id: {ProviderHttp.Short(r.Body)}");
    }

    public async Task<GpuRental> GetAsync(string id, CancellationToken ct)
    {
        var r = await _http.SendAsync(HttpMethod.Get, CloudProviders.Join(_rest, "pods/" + Uri.EscapeDataString(id)), null, ClassifyRest, ct).ConfigureAwait(false);
        return Pod(ProviderHttp.Object(r.Json, Name, $"the answer for pod {id}", r.Body));
    }

    public async Task<IReadOnlyList<GpuRental>> ListAsync(CancellationToken ct)
    {
        var r = await _http.SendAsync(HttpMethod.Get, CloudProviders.Join(_rest, "pods"), null, ClassifyRest, ct).ConfigureAwait(false);
        return r.Json is { ValueKind: JsonValueKind.Array } list ? list.EnumerateArray().Select(p => Pod(ProviderHttp.Object(p, Name, "a pod in the list", p.GetRawText()))).ToList()
            : throw new RgtException("ProviderError", FailureKind.InvalidData, $"runpod: the pod list is not a list: {ProviderHttp.Short(r.Body)}");
    }

    public Task StopAsync(string id, CancellationToken ct) =>
        _http.SendAsync(HttpMethod.Post, CloudProviders.Join(_rest, $"pods/{Uri.EscapeDataString(id)}/stop"), null, ClassifyRest, ct);

    public Task StartAsync(string id, CancellationToken ct) =>
        _http.SendAsync(HttpMethod.Post, CloudProviders.Join(_rest, $"pods/{Uri.EscapeDataString(id)}/start"), null, ClassifyRest, ct);

    public Task TerminateAsync(string id, CancellationToken ct) =>
        _http.SendAsync(HttpMethod.Delete, CloudProviders.Join(_rest, "pods/" + Uri.EscapeDataString(id)), null, ClassifyRest, ct);

    static GpuRental Pod(JsonElement p)
    {
        var status = ProviderHttp.Str(p, "desiredStatus") ?? "";
        var ip = ProviderHttp.Str(p, "publicIp");
        int? port = p.TryGetProperty("portMappings", out var map) && map.ValueKind == JsonValueKind.Object ? ProviderHttp.Port(map, "22", "runpod", "portMappings.") : null;
        var interruptible = p.TryGetProperty("interruptible", out var i) && i.ValueKind == JsonValueKind.True;
        return new GpuRental
        {
            Provider = "runpod", RentalId = ProviderHttp.Str(p, "id") ?? "", Name = ProviderHttp.Str(p, "name"), ProviderState = status,
            State = status switch
            {
                "RUNNING" when !string.IsNullOrEmpty(ip) && port is not null => nameof(RentalState.Running),
                "RUNNING" or "CREATED" => nameof(RentalState.Provisioning),
                // A spot pod is taken back unannounced (SIGTERM, ~5 s, SIGKILL) and left exited.
                "EXITED" when interruptible => nameof(RentalState.Preempted),
                "EXITED" => nameof(RentalState.Stopped),
                "TERMINATED" => nameof(RentalState.Terminated),
                _ => nameof(RentalState.Unknown),
            },
            HourlyPrice = ProviderHttp.Price(p, "costPerHr", "runpod"), Interruptible = interruptible,
            Gpu = p.TryGetProperty("gpu", out var g) && g.ValueKind == JsonValueKind.Object ? ProviderHttp.Str(g, "displayName") : null,
            GpuCount = ProviderHttp.Count(p, "gpuCount", "runpod"),
            CreatedAt = ProviderHttp.Time(p, "createdAt", "runpod"),
            SshHost = string.IsNullOrEmpty(ip) ? null : ip, SshPort = port, SshUser = "root",
        };
    }

    static RgtException? ClassifyRest(ProviderResponse r)
    {
        var text = r.Json is { } j ? ProviderHttp.Str(j, "error") ?? ProviderHttp.Str(j, "message") ?? r.Body : r.Body;
        return (int)r.Status switch
        {
            400 when text.Contains("no longer any instances available", StringComparison.OrdinalIgnoreCase) => new RgtException("NoCapacity", FailureKind.ResourceBusy, $"runpod: {text}"),
            402 => new RgtException("InsufficientBalance", FailureKind.OperationFailed, $"runpod: {text}"),
            404 => new RgtException("RentalNotFound", FailureKind.NotFound, $"runpod: {text}"),
            >= 400 and < 500 and not (401 or 403) => new RgtException("ProviderError", FailureKind.OperationFailed, $"runpod: HTTP {(int)r.Status}: {ProviderHttp.Short(text)}"),
            _ => null,
        };
    }

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
            var perGpu = ProviderHttp.Price(lp, q.Interruptible ? "minimumBidPrice" : "uninterruptablePrice", Name, "lowestPrice.");
            if (perGpu is null or <= 0) continue;
            offers.Add(new GpuOffer
            {
                Provider = Name, OfferId = ProviderHttp.Str(t, "id") ?? "", Gpu = ProviderHttp.Str(t, "displayName") ?? ProviderHttp.Str(t, "id") ?? "?",
                GpuCount = q.GpuCount, GpuMemoryGB = ProviderHttp.Num(t, "memoryInGb"), HourlyPrice = perGpu.Value * q.GpuCount,
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
