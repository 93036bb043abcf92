using System.Management.Automation;
using RemoteGpuTrainer.Engine;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Providers;
using RemoteGpuTrainer.Engine.Ssh;

namespace RemoteGpuTrainer.Commands;

/// <summary>
/// Powers a stopped cloud rental on again through its provider's API, waits until its SSH answers,
/// and moves the inventory entry to the address the provider gives it now (a RunPod pod's port and a
/// Paperspace machine's dynamic IP change at every start), checking the box against the host key
/// pinned at first contact.
/// </summary>
[Cmdlet(VerbsLifecycle.Start, "GpuRental", SupportsShouldProcess = true)]
[OutputType(typeof(GpuHost))]
public sealed class StartGpuRentalCommand : RgtCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(HostNameCompleter))]
    public string[] Name { get; set; } = Array.Empty<string>();

    /// <summary>How long the rental may take to answer over SSH (default 20 minutes); it is left as it is after that, not stopped.</summary>
    [Parameter]
    [Duration]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(20);

    [Parameter]
    [Duration]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(5);

    protected override void ProcessRecord()
    {
        foreach (var host in ResolveHostNames(Name))
        {
            try { if (StartOne(host) is { } started) WriteObject(started); }
            catch (Exception ex) when (ex is RgtException or OperationCanceledException) { WriteFailure(ex, host.Name); }
        }
    }

    GpuHost? StartOne(GpuHost host)
    {
        if (!CloudProviders.Manages(host))
            throw new RgtException("NotARental", FailureKind.InvalidArgument,
                $"{host.Name} was not created through a provider's API (New-GpuRental -Offer or -Provider): start it in the platform's console, then Set-GpuHost {host.Name} -HostName/-Port if its address changed.");
        if (!ShouldProcess($"{host.Provider} rental {host.RentalId} ({host.Name})", "Start (billing resumes)")) return null;
        using var api = CloudProviders.Connect(host.Provider!, null, VerboseLog, Catalog);
        var progress = new ProgressRecord(4, $"Starting {host.Name}", "asking the provider");
        var started = RunWithProgress(ct => RentalStart.StartAsync(api, host, new LaunchOptions(Timeout, PollInterval, 1), VerboseLog,
            (text, percent) => { lock (progress) { progress.StatusDescription = text; progress.PercentComplete = percent ?? -1; } }, ct), progress);
        var moved = started.Host;
        var known = new KnownHosts(SshTarget.Resolve(moved).KnownHostsFiles);
        var pinned = known.PinnedKeysOf(host.HostName, host.Port ?? 22);
        if (started.MovedFrom is not null)
        {
            pinned = RentalStart.MovePin(known, host.Name, host.HostName, host.Port ?? 22, moved.HostName, moved.Port ?? 22);
            Inventory.Update(list => { list[list.FindIndex(h => h.Name == host.Name)] = moved; return list; });
            WriteVerbose($"{host.Name}: {host.Provider} gave the rental a new address: {started.MovedFrom} -> {moved.HostName}:{moved.Port ?? 22}; the inventory follows it.");
        }
        // The pinned key must answer at the address the provider gave: a different key is refused here, before any work goes there.
        using (var connector = NewConnector(new ConnectOptions(false, TimeSpan.FromSeconds(30), PinnedKeys: pinned.Count > 0 ? pinned : null)))
            RunWithProgress(ct => connector.OpenShellAsync(moved, ct), progress);
        // The old address is not this rental's any more: the provider hands it to the next machine.
        if (started.MovedFrom is not null) known.Forget(host.HostName, host.Port ?? 22);
        FlushVerbose();
        return Inventory.Load().First(h => h.Name == host.Name);
    }
}
