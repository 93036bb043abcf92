using System.Management.Automation;
using RemoteGpuTrainer.Engine;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Planning;

namespace RemoteGpuTrainer.Commands;

/// <summary>Removes exactly the patrol entries Register-GpuPatrol installed; every other crontab line stays as it was.</summary>
[Cmdlet(VerbsLifecycle.Unregister, "GpuPatrol", SupportsShouldProcess = true)]
[OutputType(typeof(GpuPatrolSchedule))]
public sealed class UnregisterGpuPatrolCommand : RgtCmdlet
{
    readonly List<string> _ids = new();

    /// <summary>Ids from Get-GpuPatrolSchedule (by property name); all of the module's entries when omitted.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    public string[]? Id { get; set; }

    protected override void ProcessRecord()
    {
        if (Id is not null) _ids.AddRange(Id);
    }

    protected override void EndProcessing()
    {
        try
        {
            var current = PatrolScheduler.ReadCrontab();
            var ours = PatrolScheduler.Parse(current).Where(s => _ids.Count == 0 || _ids.Contains(s.Id)).ToList();
            var remove = ours.Where(s => ShouldProcess(s.Entry, $"Remove this crontab line: {s.Entry}", "Unregister-GpuPatrol")).Select(s => s.Id).ToList();
            if (remove.Count == 0) return;
            PatrolScheduler.WriteCrontab(PatrolScheduler.Without(current, remove));
            foreach (var s in ours.Where(s => remove.Contains(s.Id))) WriteObject(s);
        }
        catch (RgtException ex) { ThrowFailure(ex, null); }
    }
}
