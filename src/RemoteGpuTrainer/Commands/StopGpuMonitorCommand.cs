using System.Management.Automation;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Monitoring;

namespace RemoteGpuTrainer.Commands;

/// <summary>Stops the on-box sampler and everything it started, and reports the CPU it used; the samples stay on the box.</summary>
[Cmdlet(VerbsLifecycle.Stop, "GpuMonitor", SupportsShouldProcess = true, DefaultParameterSetName = ByName)]
[OutputType(typeof(GpuMonitor))]
public sealed class StopGpuMonitorCommand : HostCmdlet
{
    protected override void EndProcessing()
    {
        var targets = Hosts.Where(h => ShouldProcess(h.Name, "Stop the sampler (its own processes only)")).ToList();
        using var connector = NewConnector();
        foreach (var r in FanOut(targets, ThrottleLimit, async (h, ct) =>
        {
            var (shell, host, _) = await connector.OpenAsync(h, ct).ConfigureAwait(false);
            var output = await shell.RunAsync(MonitorScripts.Stop(host), TimeSpan.FromSeconds(60), ct).ConfigureAwait(false);
            return MonitorScripts.StopResult(host, output);
        }))
        {
            if (r.Error is not null) WriteFailure(r.Error, r.Item.Name);
            else
            {
                if (r.Value!.Note is { } note) WriteWarning(note);
                WriteObject(r.Value);
            }
        }
    }
}
