using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Ssh;
using RemoteGpuTrainer.Engine.Providers;

namespace RemoteGpuTrainer.Engine.Rentals;

/// <summary>
/// Start-GpuRental: powers a stopped rental on through its provider's API and waits until its SSH
/// answers. A RunPod pod comes back on another port, a Paperspace machine with a dynamic IP on
/// another address: the endpoint is read from the API, and the host key pinned at the rental's first
/// contact moves with it, so the box at the new address must present that same key.
/// </summary>
public static class RentalStart
{
    public sealed record Started(GpuRental Rental, bool WasStopped, GpuHost Host, string? MovedFrom);

    public static async Task<Started> StartAsync(ICloudProvider api, GpuHost host, LaunchOptions options, Action<string> log, Action<string, int?> progress, CancellationToken ct)
    {
        var id = host.RentalId ?? throw new RgtException("NotARental", FailureKind.InvalidArgument, $"{host.Name} was not created through a provider's API (no RentalId): start it in the platform's console.");
        var now = await api.GetAsync(id, ct).ConfigureAwait(false);
        if (now.State == nameof(RentalState.Terminated))
            throw new RgtException("RentalNotFound", FailureKind.NotFound, $"{host.Name}: {api.Name} rental {id} is terminated ({now.ProviderState}); there is nothing to start. Remove-GpuHost {host.Name} drops the entry.");
        var wasStopped = now.State is nameof(RentalState.Stopped) or nameof(RentalState.Preempted);
        if (wasStopped)
        {
            progress($"{api.Name}: starting rental {id} ({now.ProviderState})", null);
            await api.StartAsync(id, ct).ConfigureAwait(false);
            log($"{api.Name}: asked to start rental {id}");
        }
        var ready = await RentalLauncher.WaitReachableAsync(api, id, options, progress, ct, wasStopped).ConfigureAwait(false);
        var (newHost, newPort) = (ready.SshHost!, ready.SshPort ?? 22);
        var (oldHost, oldPort) = (host.HostName, host.Port ?? 22);
        if (newHost == oldHost && newPort == oldPort) return new Started(ready, wasStopped, host, null);
        return new Started(ready, wasStopped, host with { HostName = newHost, Port = newPort == 22 ? null : newPort }, $"{oldHost}:{oldPort}");
    }

    /// <summary>
    /// Start-GpuRental as one engine call: start (<see cref="StartAsync"/>), then, when the address
    /// moved, the pin first (<see cref="MovePin"/>), the inventory entry second, a connection that must be
    /// presented the rental's own key third, and only then the old address forgotten in known_hosts.
    /// Returns the host as the inventory now has it.
    /// </summary>
    public static async Task<GpuHost> StartAndFollowAsync(ICloudProvider api, GpuHost host, LaunchOptions options, Hosts.HostInventory inventory,
        Func<ConnectOptions, HostConnector> connect, Action<string> log, Action<string, int?> progress, CancellationToken ct)
    {
        var started = await StartAsync(api, host, options, log, progress, ct).ConfigureAwait(false);
        var moved = started.Host;
        var known = new KnownHosts(SshTarget.Resolve(moved).KnownHostsFiles);
        var pinned = known.PinnedKeysOf(host.HostName, host.Port ?? 22);
        if (started.MovedFrom is not null)
        {
            pinned = MovePin(known, host.Name, host.HostName, host.Port ?? 22, moved.HostName, moved.Port ?? 22);
            inventory.Update(list => { list[list.FindIndex(h => h.Name == host.Name)] = moved; return list; });
            log($"{host.Name}: {host.Provider} gave the rental a new address: {started.MovedFrom} -> {moved.HostName}:{moved.Port ?? 22}; the inventory follows it.");
        }
        // The pinned key must answer at the address the provider gave: a different key is refused here, before any work goes there.
        using (var connector = connect(new ConnectOptions(false, TimeSpan.FromSeconds(30), PinnedKeys: pinned.Count > 0 ? pinned : null)))
            await connector.OpenAsync(moved, ct, resolvePaths: false).ConfigureAwait(false);
        // The old address is not this rental's any more: the provider hands it to the next machine.
        if (started.MovedFrom is not null) known.Forget(host.HostName, host.Port ?? 22);
        return inventory.Load().First(h => h.Name == host.Name);
    }

    /// <summary>
    /// Moves the rental's own keys (the plain lines pinned for its old address at first contact) to the
    /// new address, replacing whatever the write file held there (a stale line of the machine that had
    /// the address before). Returns them: the connection that follows must be presented one of these,
    /// whatever else known_hosts holds for the new address. Fails closed without a pin.
    /// </summary>
    public static IReadOnlyList<byte[]> MovePin(KnownHosts known, string name, string oldHost, int oldPort, string newHost, int newPort)
    {
        var pinned = known.PinnedKeysOf(oldHost, oldPort);
        if (pinned.Count == 0)
            throw new RgtException("HostKeyUnverified", FailureKind.SecurityError,
                $"{name}: no host key is recorded for its old address {KnownHosts.HostKey(oldHost, oldPort)}, so the box at {KnownHosts.HostKey(newHost, newPort)} cannot be checked. Compare its key with the provider's console, then Test-GpuHost {name} -TrustOnFirstUse.");
        known.Forget(newHost, newPort);
        foreach (var key in pinned) known.Add(newHost, newPort, key);
        return pinned;
    }
}
