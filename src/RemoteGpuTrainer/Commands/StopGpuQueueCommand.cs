using System.Management.Automation;
using RemoteGpuTrainer.Engine;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Queues;
using RemoteGpuTrainer.Engine.Ssh;

namespace RemoteGpuTrainer.Commands;

/// <summary>Stops a queue's detach session and process group, then verifies in a second call that nothing is left.</summary>
[Cmdlet(VerbsLifecycle.Stop, "GpuQueue", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(GpuQueue))]
public sealed class StopGpuQueueCommand : RgtCmdlet
{
    readonly List<(string Name, string QueueId)> _targets = new();

    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(HostNameCompleter))]
    public string Name { get; set; } = "";

    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    public string QueueId { get; set; } = "";

    protected override void ProcessRecord()
    {
        if (!_targets.Contains((Name, QueueId))) _targets.Add((Name, QueueId));
    }

    protected override void EndProcessing()
    {
        IReadOnlyList<GpuHost> inventory;
        try { inventory = Inventory.Load(); }
        catch (RgtException ex) { ThrowFailure(ex, Inventory.FilePath); return; }
        foreach (var (name, queueId) in _targets)
        {
            var host = FindHost(inventory, name);
            if (host is null) continue;
            if (!ShouldProcess($"{host.Name}: queue '{queueId}'", "Stop the queue (kills its running cell)")) continue;
            try
            {
                using (var connector = new HostConnector())
                {
                    try
                    {
                        var shell = connector.OpenShellAsync(host, Cancellation).GetAwaiter().GetResult();
                        var output = shell.RunAsync(QueueScripts.Stop(host, queueId), TimeSpan.FromSeconds(30), Cancellation).GetAwaiter().GetResult();
                        if (output.StdOut.Contains("RGT_NOQUEUE", StringComparison.Ordinal))
                        {
                            WriteFailure(new RgtException("QueueNotFound", FailureKind.NotFound, $"{host.Name}: there is no queue '{queueId}'."), host.Name);
                            continue;
                        }
                    }
                    catch (RgtException ex) when (ex.ErrorId == "ConnectionLost")
                    {
                        WriteVerbose($"{host.Name}: the connection dropped during the kill ({ex.Message}); verifying on a new one.");
                    }
                }
                using var verifier = new HostConnector();
                var vshell = verifier.OpenShellAsync(host, Cancellation).GetAwaiter().GetResult();
                var left = vshell.RunAsync(QueueScripts.VerifyStopped(host, queueId), TimeSpan.FromSeconds(30), Cancellation).GetAwaiter().GetResult().StdOut;
                var line = left.Split('\n').FirstOrDefault(l => l.StartsWith("RGT_LEFT", StringComparison.Ordinal)) ?? "RGT_LEFT ?";
                var remaining = line["RGT_LEFT".Length..].Trim();
                if (remaining.Length > 0)
                {
                    WriteFailure(new RgtException("QueueStillRunning", FailureKind.OperationFailed, $"{host.Name}: queue '{queueId}' still has processes after the stop: {remaining}."), host.Name);
                    continue;
                }
                WriteObject(new GpuQueue { Name = host.Name, QueueId = queueId, State = "Stopped", RemoteRoot = QueueScripts.QueueDir(host, queueId) });
            }
            catch (Exception ex) when (ex is RgtException or OperationCanceledException) { WriteFailure(ex, host.Name); }
        }
    }
}
