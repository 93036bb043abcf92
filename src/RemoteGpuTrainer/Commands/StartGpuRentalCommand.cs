using RemoteGpuTrainer.Engine.Hosts;
using RemoteGpuTrainer.Engine.Rentals;
using System.Management.Automation;
using RemoteGpuTrainer.Engine;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Providers;

namespace RemoteGpuTrainer.Commands;

/// <summary>
/// Powers a stopped cloud rental on again through its provider's API, waits until its SSH answers,
/// and moves the inventory entry to the address the provider gives it now (a RunPod pod's port and a
/// Paperspace machine's dynamic IP change at every start), checking the box against the host key
/// pinned at first contact.
/// </summary>
[Cmdlet(VerbsLifecycle.Start, "GpuRental", SupportsShouldProcess = true)]
[OutputType(typeof(GpuHost))]
public sealed class StartGpuRentalCommand : SshCmdlet
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
        var started = RunWithProgress(ct => RentalStart.StartAndFollowAsync(api, host, new LaunchOptions(Timeout, PollInterval, 1), Inventory, NewConnector, VerboseLog,
            (text, percent) => { lock (progress) { progress.StatusDescription = text; progress.PercentComplete = percent ?? -1; } }, ct), progress);
        FlushVerbose();
        return started;
    }
}
