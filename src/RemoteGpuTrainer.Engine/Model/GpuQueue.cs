namespace RemoteGpuTrainer.Engine.Model;

/// <summary>A queue launched (or found) on one host.</summary>
public sealed class GpuQueue
{
    public string Name { get; init; } = "";
    public string QueueId { get; init; } = "";
    /// <summary>The cells this host owns.</summary>
    public Listed<string> Cells { get; init; } = Listed<string>.Empty;
    /// <summary>Started, Submitted (Slurm), AlreadyDone, Running, Done, Failed, Stopped.</summary>
    public string State { get; init; } = "";
    /// <summary>"tmux:&lt;session&gt;", "nohup" or "slurm".</summary>
    public string? Session { get; init; }
    public string RemoteRoot { get; init; } = "";
    public string? Launcher { get; init; }
    public int? LauncherPid { get; init; }
    public int StartAt { get; init; } = 1;
    /// <summary>Under Slurm: the jobs this start submitted, one per cell (array tasks as "&lt;id&gt;_&lt;task&gt;").</summary>
    public Listed<string> SchedulerJobIds { get; init; } = Listed<string>.Empty;
    /// <summary>What the scheduler said on stderr while accepting the jobs (sbatch warnings); each is also written as a warning.</summary>
    public Listed<string> Warnings { get; init; } = Listed<string>.Empty;
}
