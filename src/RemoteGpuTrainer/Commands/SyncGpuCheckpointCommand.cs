using System.Diagnostics;
using System.Management.Automation;
using RemoteGpuTrainer.Engine;
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
    [ArgumentCompleter(typeof(QueueCompleter))]
    public string? QueueId { get; set; }

    protected override void EndProcessing()
    {
        var hosts = Hosts.Where(h => ShouldProcess(h.Name, $"Copy finished cells to {h.DurableDir}/final_ckpts")).ToList();
        using var connector = NewConnector();
        var defaults = Hosts.ToDictionary(h => h.Name, h => GpuPlatformDefaults.From(Catalog.Find(h.Platform)), StringComparer.OrdinalIgnoreCase);
        foreach (var r in FanOut(hosts, ThrottleLimit, async (h, ct) =>
        {
            var (shell, host, _) = await connector.OpenAsync(h, ct).ConfigureAwait(false);
            var sw = Stopwatch.StartNew();
            var output = await shell.RunAsync(SyncScripts.Sync(host, defaults[host.Name], QueueId), TimeSpan.FromMinutes(30), ct).ConfigureAwait(false);
            return SyncScripts.Parse(host, output.StdOut, sw.Elapsed).ToList();
        }))
        {
            if (r.Error is not null) { WriteFailure(r.Error, r.Item.Name); continue; }
            foreach (var t in r.Value!)
            {
                WriteObject(t);
                if (t.Status == "Failed")
                    WriteFailure(new RgtException("SyncFailed", FailureKind.OperationFailed, $"{t.Name}: cell {t.Cell} was not copied to durable storage: {t.Reason}"), t.Name);
            }
        }
    }
}
