using System.Management.Automation;
using RemoteGpuTrainer.Engine;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Queues;
using RemoteGpuTrainer.Engine.Ssh;

namespace RemoteGpuTrainer.Commands;

/// <summary>Stops a queue's detach session and process group, then verifies in a second call that nothing is left.</summary>
[Cmdlet(VerbsLifecycle.Stop, "GpuQueue", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(GpuQueue))]
public sealed class StopGpuQueueCommand : SshCmdlet
{
    readonly List<(string Name, string QueueId)> _targets = new();

    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(HostNameCompleter))]
    public string Name { get; set; } = "";

    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(QueueCompleter))]
    public string QueueId { get; set; } = "";

    /// <summary>How many hosts are stopped at once.</summary>
    [Parameter]
    [ValidateRange(1, 1024)]
    public int ThrottleLimit { get; set; } = 32;

    protected override void ProcessRecord()
    {
        if (!_targets.Contains((Name, QueueId))) _targets.Add((Name, QueueId));
    }

    protected override void EndProcessing()
    {
        IReadOnlyList<GpuHost> inventory;
        try { inventory = Inventory.Load(); }
        catch (RgtException ex) { ThrowFailure(ex, Inventory.FilePath); return; }
        var confirmed = new List<(GpuHost Host, string QueueId)>();
        foreach (var (name, queueId) in _targets)
        {
            var host = FindHost(inventory, name);
            if (host is null) continue;
            if (ShouldProcess($"{host.Name}: queue '{queueId}'", "Stop the queue (kills its running cell)")) confirmed.Add((host, queueId));
        }
        foreach (var r in FanOut(confirmed, ThrottleLimit, (t, ct) => QueueService.StopAsync(() => NewConnector(), t.Host, t.QueueId, ct)))
        {
            if (r.Error is not null) WriteFailure(r.Error, r.Item.Host.Name);
            else WriteObject(r.Value);
        }
    }
}
