using System.Diagnostics;
using System.Management.Automation;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Queues;
using RemoteGpuTrainer.Engine.Ssh;

namespace RemoteGpuTrainer.Commands;

/// <summary>On the box: copies finished cells' best checkpoint, metrics and log from the data disk to the durable directory, verified by size.</summary>
[Cmdlet(VerbsData.Sync, "GpuCheckpoint", SupportsShouldProcess = true, DefaultParameterSetName = ByName)]
[OutputType(typeof(GpuTransfer))]
public sealed class SyncGpuCheckpointCommand : HostCmdlet
{
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? QueueId { get; set; }

    protected override void EndProcessing()
    {
        var hosts = Hosts.Where(h => ShouldProcess(h.Name, $"Copy finished cells to {h.DurableDir}/final_ckpts")).ToList();
        using var connector = new HostConnector();
        FanOutHosts(async (host, ct) =>
        {
            if (!hosts.Contains(host)) return new List<GpuTransfer>();
            var shell = await connector.OpenShellAsync(host, ct).ConfigureAwait(false);
            var sw = Stopwatch.StartNew();
            var output = await shell.RunAsync(SyncScripts.Sync(host, GpuPlatformDefaults.From(Catalog.Find(host.Platform)), QueueId), TimeSpan.FromMinutes(30), ct).ConfigureAwait(false);
            return SyncScripts.Parse(host, output.StdOut, sw.Elapsed).ToList();
        }, "Syncing checkpoints to durable storage");
    }
}
