using System.Management.Automation;
using RemoteGpuTrainer.Engine;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Planning;

namespace RemoteGpuTrainer.Commands;

/// <summary>Lists the patrols Register-GpuPatrol installed.</summary>
[Cmdlet(VerbsCommon.Get, "GpuPatrolSchedule")]
[OutputType(typeof(GpuPatrolSchedule))]
public sealed class GetGpuPatrolScheduleCommand : RgtCmdlet
{
    protected override void EndProcessing()
    {
        try { WriteObject(PatrolScheduler.Parse(PatrolScheduler.ReadCrontab()), true); }
        catch (RgtException ex) { ThrowFailure(ex, null); }
    }
}
