using System.Management.Automation;
using System.Net;
using System.Security;
using RemoteGpuTrainer.Engine;
using RemoteGpuTrainer.Engine.Hosts;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Providers;
using RemoteGpuTrainer.Engine.Ssh;

namespace RemoteGpuTrainer.Commands;

/// <summary>
/// Registers an SSH rental (a connection string as the platform prints it) in the inventory; or creates
/// one at a cloud provider from an offer, waits until its SSH answers, and registers it.
/// </summary>
[Cmdlet(VerbsCommon.New, "GpuRental", SupportsShouldProcess = true, DefaultParameterSetName = Ssh)]
[OutputType(typeof(GpuHost))]
public sealed class NewGpuRentalCommand : RgtCmdlet
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
    [ValidateSet("runpod", "vastai", "lambda", "paperspace")]
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
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        var explicitKey = ApiKey is null ? null : new NetworkCredential("", ApiKey).Password;
        var identity = IdentityFile is null ? DefaultIdentity(home) : GetUnresolvedProviderPathFromPSPath(IdentityFile);
        if (!File.Exists(identity + ".pub"))
            throw new RgtException("SshKeyMissing", FailureKind.NotFound, $"The public key {identity}.pub, which the new instance is created with, does not exist: make a key pair with ssh-keygen -t ed25519, or name one with -IdentityFile.");
        var publicKey = File.ReadAllText(identity + ".pub").Trim();
        var providers = (ParameterSetName == Search ? Provider : _offers.Select(o => o.Provider)).Distinct().ToList();
        if (explicitKey is not null && providers.Count != 1)
            throw new RgtException("ApiKeyAmbiguous", FailureKind.InvalidArgument, "-ApiKey belongs to one provider; these offers come from several.");
        var names = Name is null ? Array.Empty<string>() : Count > 1 ? Enumerable.Range(1, Count).Select(i => $"{Name}-{i}").ToArray() : new[] { Name };
        var inventory = Inventory.Load();
        foreach (var n in names) { HostRegistration.ValidateName(n); HostRegistration.EnsureNameFree(inventory, n); }
        var apis = new Dictionary<string, ICloudProvider>();
        try
        {
            foreach (var p in providers) apis[p] = CloudProviders.Connect(p, explicitKey, VerboseLog, Catalog);
            var offers = ParameterSetName == Search ? SearchOffers(apis) : _offers.ToList();
            if (offers.Count == 0) throw new RgtException("NoOffer", FailureKind.NotFound, "No offer matches: widen the search (Get-GpuOffer shows what there is).");
            var used = new HashSet<string>();
            for (int i = 1; i <= Count; i++)
            {
                var name = Name is null ? null : Count > 1 ? $"{Name}-{i}" : Name;
                // A vast.ai ask is one machine: once rented it is gone; a RunPod or Lambda type can be rented again.
                var candidates = offers.Where(o => !(o.Provider == "vastai" && used.Contains(o.OfferId))).Select(o => (apis[o.Provider], o)).ToList();
                var target = name ?? $"{candidates.FirstOrDefault().o?.Provider} rental";
                if (!ShouldProcess(target, $"Create a rental from {string.Join(", ", candidates.Take(MaxOffers).Select(c => $"{c.o.Provider}/{c.o.OfferId} ({c.o.HourlyPrice} {c.o.Currency}/h)"))} (billing starts now)")) return;
                var (host, offerId) = CreateOne(candidates, name, publicKey, identity);
                used.Add(offerId);
                WriteObject(host);
            }
        }
        finally { foreach (var api in apis.Values) api.Dispose(); }
    }

    List<GpuOffer> SearchOffers(Dictionary<string, ICloudProvider> apis)
    {
        var (gpu, count) = OfferQuery.ParseGpu(Gpu);
        var query = new OfferQuery(gpu, count, null, MaxHourlyPrice, Region, Interruptible);
        var found = new List<GpuOffer>();
        foreach (var r in Fan(apis.Values.ToList(), apis.Count, (api, ct) => api.ListOffersAsync(query, ct)))
        {
            if (r.Error is not null) WriteFailure(r.Error, r.Item.Name);
            else found.AddRange(r.Value!);
        }
        return query.Rank(found);
    }

    /// <summary>One rental: create (with failover), wait for SSH, register, record the host key; terminated again if any of it fails.</summary>
    (GpuHost Host, string OfferId) CreateOne(List<(ICloudProvider Api, GpuOffer Offer)> candidates, string? name, string publicKey, string identity)
    {
        var progress = new ProgressRecord(3, "Creating a GPU rental", "asking the provider");
        var spec = new RentalSpec(name ?? "rgt-" + Guid.NewGuid().ToString("N")[..8], publicKey, Image ?? "", DiskGB, null);
        var launched = RunWithProgress(ct => RentalLauncher.LaunchAsync(candidates, spec,
            new LaunchOptions(Timeout, PollInterval, MaxOffers, p => Catalog.Find(p)?.DefaultImage), VerboseLog,
            (text, percent) => { lock (progress) { progress.StatusDescription = text; progress.PercentComplete = percent ?? -1; } }, ct), progress);
        var (api, offer, instance) = launched;
        try
        {
            var user = User ?? instance.SshUser ?? "root";
            var result = HostRegistration.Register(
                new RentalRequest($"ssh -p {instance.SshPort} {user}@{instance.SshHost}", name ?? spec.Name, offer.Provider, identity, Tag, DataDir, DurableDir, offer.Region, Python, Notes, true, MustBeNew: true),
                Inventory, Catalog, DateTimeOffset.Now);
            var registered = result.Host with { Provider = offer.Provider, RentalId = instance.RentalId, HourlyPrice = offer.HourlyPrice, Currency = offer.Currency };
            Inventory.Update(list => { list[list.FindIndex(h => h.Name == registered.Name)] = registered; return list; });
            foreach (var w in result.Warnings) WriteWarning(w);
            // A freshly created instance has no known host key: the first one seen is recorded, and said once.
            using (var connector = NewConnector(new ConnectOptions(true, TimeSpan.FromSeconds(30))))
                RunWithProgress(ct => connector.OpenShellAsync(registered, ct), progress);
            FlushVerbose();
            WriteWarning($"{registered.Name}: recorded the new rental's host key on first contact ({offer.Provider} rental {instance.RentalId}); a later change of key is refused.");
            return (Inventory.Load().First(h => h.Name == registered.Name), offer.OfferId);
        }
        catch (Exception ex)
        {
            var cleanup = RentalLauncher.TerminateAsync(api, instance.RentalId, VerboseLog).GetAwaiter().GetResult();
            Inventory.Update(list => { list.RemoveAll(h => h.RentalId == instance.RentalId && h.Provider == offer.Provider); return list; });
            if (ex is PipelineStoppedException && cleanup is null) throw;
            throw RentalLauncher.Terminated(offer.Provider, instance.RentalId, ex, cleanup);
        }
    }

    static string DefaultIdentity(string home) =>
        new[] { "id_ed25519", "id_ecdsa", "id_rsa" }.Select(k => Path.Combine(home, ".ssh", k)).FirstOrDefault(File.Exists) ?? Path.Combine(home, ".ssh", "id_ed25519");
}
