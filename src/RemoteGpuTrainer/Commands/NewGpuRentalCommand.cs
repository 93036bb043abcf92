using RemoteGpuTrainer.Engine.Rentals;
using System.Management.Automation;
using System.Net;
using System.Security;
using RemoteGpuTrainer.Engine;
using RemoteGpuTrainer.Engine.Hosts;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Providers;

namespace RemoteGpuTrainer.Commands;

/// <summary>
/// Registers an SSH rental (a connection string as the platform prints it) in the inventory; or creates
/// one at a cloud provider from an offer, waits until its SSH answers, and registers it.
/// </summary>
[Cmdlet(VerbsCommon.New, "GpuRental", SupportsShouldProcess = true, DefaultParameterSetName = Ssh)]
[OutputType(typeof(GpuHost))]
public sealed class NewGpuRentalCommand : SshCmdlet
{
    const string Ssh = "Ssh";
    const string FromOffer = "Offer";
    const string Search = "Search";
    readonly List<GpuOffer> _offers = new();

    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true, ParameterSetName = Ssh)]
    [ValidateNotNullOrEmpty]
    public string ConnectionString { get; set; } = "";

    /// <summary>Offers from Get-GpuOffer, tried in order until one starts (capacity failover).</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = FromOffer)]
    public GpuOffer[] Offer { get; set; } = Array.Empty<GpuOffer>();

    [Parameter(Mandatory = true, ParameterSetName = Search)]
    [ValidateProvider]
    [ArgumentCompleter(typeof(ProviderCompleter))]
    public string[] Provider { get; set; } = Array.Empty<string>();

    [Parameter(Mandatory = true, ParameterSetName = Search)]
    [ValidateNotNullOrEmpty]
    public string Gpu { get; set; } = "";

    [Parameter(ParameterSetName = Search)]
    public decimal? MaxHourlyPrice { get; set; }

    [Parameter(ParameterSetName = Search)]
    public SwitchParameter Interruptible { get; set; }

    /// <summary>How many rentals to create (named Name-1, Name-2, … when more than one).</summary>
    [Parameter(ParameterSetName = FromOffer)]
    [Parameter(ParameterSetName = Search)]
    [ValidateRange(1, 64)]
    public int Count { get; set; } = 1;

    /// <summary>How long a new instance may take to answer over SSH before it is terminated (default 20 minutes).</summary>
    [Parameter(ParameterSetName = FromOffer)]
    [Parameter(ParameterSetName = Search)]
    [Duration]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(20);

    [Parameter(ParameterSetName = FromOffer)]
    [Parameter(ParameterSetName = Search)]
    [Duration]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How many offers to try, one after the other, when they have no capacity or fail to start.</summary>
    [Parameter(ParameterSetName = FromOffer)]
    [Parameter(ParameterSetName = Search)]
    [ValidateRange(1, 20)]
    public int MaxOffers { get; set; } = 3;

    [Parameter(ParameterSetName = FromOffer)]
    [Parameter(ParameterSetName = Search)]
    public string? Image { get; set; }

    [Parameter(ParameterSetName = FromOffer)]
    [Parameter(ParameterSetName = Search)]
    [ValidateRange(10, 10000)]
    public int DiskGB { get; set; } = 50;

    /// <summary>The login user when the image has another than the provider's (root; ubuntu on Lambda).</summary>
    [Parameter(ParameterSetName = FromOffer)]
    [Parameter(ParameterSetName = Search)]
    public string? User { get; set; }

    [Parameter(ParameterSetName = FromOffer)]
    [Parameter(ParameterSetName = Search)]
    public SecureString? ApiKey { get; set; }

    [Parameter]
    public string? Name { get; set; }

    [Parameter]
    [ArgumentCompleter(typeof(PlatformNameCompleter))]
    public string? Platform { get; set; }

    [Parameter]
    public string? IdentityFile { get; set; }

    [Parameter]
    [ArgumentCompleter(typeof(TagCompleter))]
    public string[]? Tag { get; set; }

    [Parameter]
    public string? DataDir { get; set; }

    [Parameter]
    public string? DurableDir { get; set; }

    [Parameter]
    public string? Region { get; set; }

    [Parameter]
    public string? Python { get; set; }

    [Parameter]
    public string? Notes { get; set; }

    /// <summary>Register a bare name that is neither an ~/.ssh/config Host nor resolvable here (otherwise refused as a likely typo).</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        if (ParameterSetName != Ssh) { _offers.AddRange(Offer); return; }
        if (!ShouldProcess(ConnectionString, "Register the rental in the inventory")) return;
        try
        {
            var identity = IdentityFile is null ? null : GetUnresolvedProviderPathFromPSPath(IdentityFile);
            var result = HostRegistration.Register(
                new RentalRequest(ConnectionString, Name, Platform, identity, Tag, DataDir, DurableDir, Region, Python, Notes, Force),
                Inventory, Catalog, DateTimeOffset.Now);
            foreach (var w in result.Warnings) WriteWarning(w);
            foreach (var d in result.Details) WriteVerbose(d);
            WriteVerbose($"{(result.Created ? "Registered" : "Updated")} {result.Host.Name} ({result.Host.Endpoint}) as platform {result.Platform.Name} in {Inventory.FilePath}.");
            WriteObject(result.Host);
        }
        catch (RgtException ex)
        {
            WriteFailure(ex, ConnectionString);
        }
    }

    protected override void EndProcessing()
    {
        if (ParameterSetName == Ssh) return;
        try { CreateRentals(); }
        catch (RgtException ex) { WriteFailure(ex, Name ?? string.Join(",", _offers.Select(o => o.Provider).Distinct())); }
    }

    void CreateRentals()
    {
        var explicitKey = ApiKey is null ? null : new NetworkCredential("", ApiKey).Password;
        var (identity, publicKey) = RentalProvisioner.KeyPair(IdentityFile is null ? null : GetUnresolvedProviderPathFromPSPath(IdentityFile), Environment.GetFolderPath(Environment.SpecialFolder.UserProfile));
        var providers = (ParameterSetName == Search ? Provider : _offers.Select(o => o.Provider)).Distinct().ToList();
        if (explicitKey is not null && providers.Count != 1)
            throw new RgtException("ApiKeyAmbiguous", FailureKind.InvalidArgument, "-ApiKey belongs to one provider; these offers come from several.");
        var names = RentalProvisioner.Names(Name, Count);
        RentalProvisioner.CheckNames(names, Inventory.Load());
        var apis = new Dictionary<string, ICloudProvider>();
        try
        {
            foreach (var p in providers) apis[p] = CloudProviders.Connect(p, explicitKey, VerboseLog, Catalog);
            var offers = ParameterSetName == Search ? SearchOffers(apis) : _offers.ToList();
            if (offers.Count == 0) throw new RgtException("NoOffer", FailureKind.NotFound, "No offer matches: widen the search (Get-GpuOffer shows what there is).");
            var used = new HashSet<string>();
            for (int i = 1; i <= Count; i++)
            {
                var name = names.Count == 0 ? null : names[i - 1];
                var candidates = RentalProvisioner.Candidates(offers, used, apis);
                var target = name ?? $"{candidates.FirstOrDefault().Offer?.Provider} rental";
                if (!ShouldProcess(target, $"Create a rental from {string.Join(", ", candidates.Take(MaxOffers).Select(c => $"{c.Offer.Provider}/{c.Offer.OfferId} ({c.Offer.HourlyPrice} {c.Offer.Currency}/h)"))} (billing starts now)")) return;
                var (host, offerId) = CreateOne(candidates, name, publicKey, identity);
                used.Add(offerId);
                WriteObject(host);
            }
        }
        finally { foreach (var api in apis.Values) api.Dispose(); }
    }

    List<GpuOffer> SearchOffers(Dictionary<string, ICloudProvider> apis)
    {
        var query = Query();
        var found = new List<GpuOffer>();
        foreach (var r in FanOut(apis.Values.ToList(), apis.Count, (api, ct) => api.ListOffersAsync(query, ct)))
        {
            if (r.Error is not null) WriteFailure(r.Error, r.Item.Name);
            else found.AddRange(r.Value!);
        }
        return query.Rank(found);
    }

    OfferQuery Query()
    {
        var (gpu, count) = OfferQuery.ParseGpu(Gpu);
        return new OfferQuery(gpu, count, null, MaxHourlyPrice, Region, Interruptible);
    }

    /// <summary>One rental, as one engine call (create with failover, wait, register, record the host key; rolled back on any failure).</summary>
    (GpuHost Host, string OfferId) CreateOne(List<(ICloudProvider Api, GpuOffer Offer)> candidates, string? name, string publicKey, string identity)
    {
        var progress = new ProgressRecord(3, "Creating a GPU rental", "asking the provider");
        var template = ParameterSetName == Search ? RentalTemplate.FromQuery(Provider, Query(), Image, DiskGB, User) : RentalTemplate.FromOffers(_offers, Image, DiskGB, User);
        var request = new ProvisionRequest(name, publicKey, identity, Image ?? "", DiskGB, User, Tag, DataDir, DurableDir, Python, Notes, template);
        var done = RunWithProgress(ct => RentalProvisioner.ProvisionAsync(candidates, request,
            new LaunchOptions(Timeout, PollInterval, MaxOffers, p => Catalog.Find(p)?.DefaultImage), Inventory, Catalog, NewConnector, VerboseLog,
            (text, percent) => { lock (progress) { progress.StatusDescription = text; progress.PercentComplete = percent ?? -1; } }, ct), progress);
        foreach (var w in done.Warnings) WriteWarning(w);
        foreach (var d in done.Details) WriteVerbose(d);
        return (done.Host, done.Offer.OfferId);
    }
}
