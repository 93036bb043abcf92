using System.Management.Automation;
using System.Net;
using System.Security;
using RemoteGpuTrainer.Engine;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Providers;

namespace RemoteGpuTrainer.Commands;

/// <summary>Lists the machines cloud providers offer now, every provider asked at once, cheapest first.</summary>
[Cmdlet(VerbsCommon.Get, "GpuOffer", DefaultParameterSetName = BySpec)]
[OutputType(typeof(GpuOffer))]
public sealed class GetGpuOfferCommand : RgtCmdlet
{
    const string BySpec = "BySpec";
    const string ByName = "ByName";

    /// <summary>Default: every provider with a key here (environment or CLI key file).</summary>
    [Parameter(Position = 0)]
    [ValidateProvider]
    [ArgumentCompleter(typeof(ProviderCompleter))]
    public string[]? Provider { get; set; }

    /// <summary>The model and count, e.g. 'A100:8', 'RTX 4090:1', 'H100' (one GPU).</summary>
    [Parameter(ParameterSetName = BySpec)]
    [ValidateNotNullOrEmpty]
    public string? Gpu { get; set; }

    [Parameter(ParameterSetName = ByName, Mandatory = true)]
    [ValidateNotNullOrEmpty]
    public string? GpuName { get; set; }

    [Parameter(ParameterSetName = ByName)]
    [ValidateRange(1, 64)]
    public int GpuCount { get; set; } = 1;

    [Parameter]
    [ValidateRange(1, 1024)]
    public double? MinGpuMemoryGB { get; set; }

    /// <summary>For all the offer's GPUs together, in the provider's currency (USD).</summary>
    [Parameter]
    [ValidateRange(0.0, 100000.0)]
    public decimal? MaxHourlyPrice { get; set; }

    /// <summary>Part of the region's name or location, e.g. 'us-east', 'US', 'Taiwan'.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Region { get; set; }

    /// <summary>Spot/bid offers (cheaper, can be stopped by the provider) instead of on-demand ones.</summary>
    [Parameter]
    public SwitchParameter Interruptible { get; set; }

    /// <summary>The API key, for one -Provider; else $env:RUNPOD_API_KEY etc., else the provider CLI's key file.</summary>
    [Parameter]
    public SecureString? ApiKey { get; set; }

    protected override void EndProcessing()
    {
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        List<string> providers;
        OfferQuery query;
        try
        {
            providers = CloudProviders.ToAsk(Provider, () => CloudProviders.WithOffers.Where(p => ApiKeys.Available(p, home)), ApiKey is not null,
                ". Set one, or name the provider with -Provider and pass -ApiKey.");
            var (name, count) = Gpu is not null ? OfferQuery.ParseGpu(Gpu) : GpuName is not null ? (GpuName, GpuCount) : (null, 1);
            query = new OfferQuery(name, count, MinGpuMemoryGB, MaxHourlyPrice, Region, Interruptible);
        }
        catch (RgtException ex) { ThrowFailure(ex, Gpu ?? GpuName); return; }
        var explicitKey = ApiKey is null ? null : new NetworkCredential("", ApiKey).Password;
        var offers = new List<GpuOffer>();
        var catalog = Catalog;
        foreach (var r in FanOut(providers, providers.Count, async (p, ct) =>
        {
            using var api = CloudProviders.Connect(p, explicitKey, VerboseLog, catalog);
            return await api.ListOffersAsync(query, ct).ConfigureAwait(false);
        }))
        {
            if (r.Error is not null) WriteFailure(r.Error, r.Item);
            else offers.AddRange(r.Value!);
        }
        WriteObject(query.Rank(offers), true);
    }
}
