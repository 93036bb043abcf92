using System.Management.Automation;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Monitoring;

namespace RemoteGpuTrainer.Commands;

/// <summary>Starts the on-box sampler: one line per tick of memory (the training's cgroup), CPU, disk and GPUs, detached from the SSH session.</summary>
[Cmdlet(VerbsLifecycle.Start, "GpuMonitor", SupportsShouldProcess = true, DefaultParameterSetName = ByName)]
[OutputType(typeof(GpuMonitor))]
public sealed class StartGpuMonitorCommand : HostCmdlet
{
    /// <summary>Time between ticks: 5s (the default), 30s, 1m.</summary>
    [Parameter]
    [Duration]
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Follow only this queue's cells (their process trees and their cgroup); default: every queue on the host.</summary>
    [Parameter]
    [ArgumentCompleter(typeof(QueueCompleter))]
    public string? QueueId { get; set; }

    protected override void EndProcessing()
    {
        var seconds = (int)Math.Round(Interval.TotalSeconds);
        if (seconds is < 1 or > 3600)
        {
            ThrowFailure(new Engine.RgtException("IntervalInvalid", Engine.FailureKind.InvalidArgument, $"-Interval must be between 1 s and 1 h (got {Interval})."), Interval);
            return;
        }
        var targets = Hosts.Where(h => ShouldProcess(h.Name, $"Start the sampler (every {seconds} s) in the host's data directory, .rgt/monitor")).ToList();
        using var connector = NewConnector();
        foreach (var r in FanOut(targets, ThrottleLimit, async (h, ct) =>
        {
            var (shell, host, _) = await connector.OpenAsync(h, ct).ConfigureAwait(false);
            var output = await shell.RunAsync(MonitorScripts.Start(host, seconds, QueueId), TimeSpan.FromSeconds(60), ct).ConfigureAwait(false);
            return MonitorScripts.StartResult(host, output, seconds);
        }))
        {
            if (r.Error is not null) { WriteFailure(r.Error, r.Item.Name); continue; }
            if (r.Value!.Status == "AlreadyRunning") WriteVerbose($"{r.Item.Name}: a sampler already runs (PID {r.Value.Pid}); nothing was started.");
            if (r.Value.Note is { } note) WriteWarning(note);
            WriteObject(r.Value);
        }
    }
}
