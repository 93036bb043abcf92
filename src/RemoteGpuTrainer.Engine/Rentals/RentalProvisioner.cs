using RemoteGpuTrainer.Engine.Hosts;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Platforms;
using RemoteGpuTrainer.Engine.Ssh;
using RemoteGpuTrainer.Engine.Providers;

namespace RemoteGpuTrainer.Engine.Rentals;

/// <summary>What a new cloud rental is registered with, beyond what its provider says about it.</summary>
public sealed record ProvisionRequest(
    string? Name, string PublicKey, string IdentityFile, string Image, int DiskGB, string? User,
    string[]? Tags = null, string? DataDir = null, string? DurableDir = null, string? Python = null, string? Notes = null,
    RentalTemplate? Template = null);

/// <summary>A rental that answers, registered with its RentalId and price; the offer it came from; what to tell the user once.</summary>
public sealed record ProvisionedRental(GpuHost Host, GpuOffer Offer, IReadOnlyList<string> Warnings, IReadOnlyList<string> Details);

/// <summary>
/// New-GpuRental through a provider's API, as one engine call with one rollback path: the launch
/// (<see cref="RentalLauncher"/>: create with failover, wait for SSH), the registration in the
/// inventory, and the first contact that records the host key. Whatever fails once the provider has
/// accepted the create — here or in the launch — terminates the instance and removes its entry, and
/// when the terminate fails too, the error names the rental and the console.
/// </summary>
public static class RentalProvisioner
{
    /// <summary>The inventory names the rentals will take: Name, or Name-1 … Name-N for several.</summary>
    public static IReadOnlyList<string> Names(string? name, int count) =>
        name is null ? Array.Empty<string>() : count > 1 ? Enumerable.Range(1, count).Select(i => $"{name}-{i}").ToArray() : new[] { name };

    /// <summary>Refuses, before anything is created, names that are invalid or that the inventory already has (HostNameTaken).</summary>
    public static void CheckNames(IReadOnlyList<string> names, IReadOnlyList<GpuHost> inventory)
    {
        foreach (var n in names)
        {
            HostRegistration.ValidateName(n);
            HostRegistration.EnsureNameFree(inventory, n);
        }
    }

    /// <summary>The identity file a new instance is created for (given, else ~/.ssh/id_ed25519, id_ecdsa or id_rsa) and its public key; SshKeyMissing without one.</summary>
    public static (string Identity, string PublicKey) KeyPair(string? identityFile, string home)
    {
        var identity = identityFile
            ?? new[] { "id_ed25519", "id_ecdsa", "id_rsa" }.Select(k => Path.Combine(home, ".ssh", k)).FirstOrDefault(File.Exists) ?? Path.Combine(home, ".ssh", "id_ed25519");
        if (!File.Exists(identity + ".pub"))
            throw new RgtException("SshKeyMissing", FailureKind.NotFound, $"The public key {identity}.pub, which the new instance is created with, does not exist: make a key pair with ssh-keygen -t ed25519, or name one with -IdentityFile.");
        return (identity, File.ReadAllText(identity + ".pub").Trim());
    }

    /// <summary>The offers the next rental may come from, in order: an offer that is one machine (a vast.ai ask) is not offered again once rented.</summary>
    public static List<(ICloudProvider Api, GpuOffer Offer)> Candidates(IEnumerable<GpuOffer> offers, IReadOnlySet<string> rented, IReadOnlyDictionary<string, ICloudProvider> apis) =>
        offers.Where(o => !(CloudProviders.Find(o.Provider)?.OfferRentableOnce == true && rented.Contains(o.OfferId))).Select(o => (apis[o.Provider], o)).ToList();

    public static async Task<ProvisionedRental> ProvisionAsync(
        IReadOnlyList<(ICloudProvider Api, GpuOffer Offer)> candidates, ProvisionRequest request, LaunchOptions options,
        HostInventory inventory, PlatformCatalog catalog, Func<ConnectOptions, HostConnector> connect,
        Action<string> log, Action<string, int?> progress, CancellationToken ct)
    {
        var spec = new RentalSpec(request.Name ?? "rgt-" + Guid.NewGuid().ToString("N")[..8], request.PublicKey, request.Image, request.DiskGB, null);
        var (api, offer, instance) = await RentalLauncher.LaunchAsync(candidates, spec, options, log, progress, ct).ConfigureAwait(false);
        try
        {
            var user = request.User ?? instance.SshUser ?? "root";
            var result = HostRegistration.Register(
                new RentalRequest($"ssh -p {instance.SshPort} {user}@{instance.SshHost}", spec.Name, offer.Provider, request.IdentityFile, request.Tags,
                    request.DataDir, request.DurableDir, offer.Region, request.Python, request.Notes, Force: true, MustBeNew: true),
                inventory, catalog, DateTimeOffset.Now);
            var registered = result.Host with { Provider = offer.Provider, RentalId = instance.RentalId, HourlyPrice = offer.HourlyPrice, Currency = offer.Currency, RentalTemplate = request.Template };
            inventory.Update(list => { list[list.FindIndex(h => h.Name == registered.Name)] = registered; return list; });
            // A freshly created instance has no known host key: the first one seen is recorded, and said once.
            // A key known_hosts holds for its address is an earlier machine's (providers hand host:port on): it goes first, said.
            progress($"{offer.Provider}: rental {instance.RentalId} answers; recording its host key", null);
            var target = SshTarget.Resolve(registered);
            var stale = new KnownHosts(target.KnownHostsFiles).Forget(target.HostName, target.Port);
            using (var connector = connect(new ConnectOptions(true, TimeSpan.FromSeconds(30))))
                await connector.OpenAsync(registered, ct, resolvePaths: false).ConfigureAwait(false);
            var warnings = result.Warnings.Append($"{registered.Name}: recorded the new rental's host key on first contact ({offer.Provider} rental {instance.RentalId}); a later change of key is refused.").ToList();
            if (stale > 0)
                warnings.Add($"{registered.Name}: known_hosts held {stale} key line(s) for {KnownHosts.HostKey(target.HostName, target.Port)} from a machine that had this address before the new rental; they were replaced by the rental's own.");
            return new ProvisionedRental(inventory.Load().First(h => h.Name == registered.Name), offer, warnings, result.Details);
        }
        catch (Exception ex)
        {
            var cleanup = await RentalLauncher.TerminateAsync(api, instance.RentalId, log).ConfigureAwait(false);
            inventory.Update(list => { list.RemoveAll(h => h.RentalId == instance.RentalId && h.Provider == offer.Provider); return list; });
            throw RentalLauncher.Terminated(offer.Provider, instance.RentalId, ex, cleanup);
        }
    }
}
