using System.Management.Automation;
using RemoteGpuTrainer.Engine;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Planning;

namespace RemoteGpuTrainer.Commands;

/// <summary>The Young/Daly checkpoint interval for a failure rate and a checkpoint write time.</summary>
[Cmdlet(VerbsCommon.Get, "CheckpointInterval")]
[OutputType(typeof(CheckpointInterval))]
public sealed class GetCheckpointIntervalCommand : RgtCmdlet
{
    [Parameter(Mandatory = true, Position = 0)]
    [Duration]
    public TimeSpan MeanTimeBetweenFailures { get; set; }

    [Parameter(Mandatory = true, Position = 1)]
    [Duration]
    public TimeSpan CheckpointWriteTime { get; set; }

    [Parameter]
    public double? SecondsPerIteration { get; set; }

    [Parameter]
    [ValidateRange(1, 100000)]
    public int Workers { get; set; } = 1;

    [Parameter]
    [ArgumentCompleter(typeof(PlatformNameCompleter))]
    public string? Platform { get; set; }

    protected override void EndProcessing()
    {
        try
        {
            var r = CheckpointPlanner.Interval(MeanTimeBetweenFailures, CheckpointWriteTime, SecondsPerIteration, Workers, Platform is null ? null : Catalog.Get(Platform));
            foreach (var w in r.Warnings) WriteWarning(w);
            WriteObject(r);
        }
        catch (RgtException ex) { ThrowFailure(ex, null); }
    }
}
