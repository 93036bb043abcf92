namespace RemoteGpuTrainer.Engine.Model;

/// <summary>One patrol tick's verdict on one host.</summary>
public sealed class GpuPatrolReport
{
    public string Name { get; init; } = "";
    /// <summary>Healthy, Done, Warn (Slurm: a cell pending too long) or Escalate.</summary>
    public string Verdict { get; init; } = "";
    public string Reason { get; init; } = "";
    public bool Alive { get; init; }
    public int Done { get; init; }
    public int Total { get; init; }
    public int? Epoch { get; init; }
    public int? DiskPercent { get; init; }
    public int? InodePercent { get; init; }
    public string? GpuStatus { get; init; }
    /// <summary>The one-line report, printed even when nothing changed (it proves the patrol is alive).</summary>
    public string Line { get; init; } = "";
    public DateTimeOffset CheckedAt { get; init; }
    /// <summary>What the on-box sampler's recent ticks foretell (OOM at the current slope, idle GPUs), each with evidence and a fix.</summary>
    public Listed<GpuFinding> Findings { get; init; } = Listed<GpuFinding>.Empty;
    /// <summary>The provider took the interruptible rental back: unreachable for a known reason (Escalate, exit code 1).</summary>
    public bool Preempted { get; init; }
    /// <summary>The host could not be reached at all.</summary>
    public bool Unreachable { get; init; }
    /// <summary>What -Recover did for this host's queues this tick (one line per queue); null when nothing was tried.</summary>
    public string? Recovery { get; init; }

    /// <summary>The report with a recovery's lines added; a queue recovered turns Escalate into Warn (work goes on, look at it).</summary>
    public GpuPatrolReport WithRecovery(string lines, bool recovered) => new()
    {
        Name = Name, Verdict = recovered && Verdict == "Escalate" ? "Warn" : Verdict, Reason = Reason, Alive = Alive, Done = Done, Total = Total, Epoch = Epoch,
        DiskPercent = DiskPercent, InodePercent = InodePercent, GpuStatus = GpuStatus, Line = Line + " | " + lines, CheckedAt = CheckedAt, Findings = Findings,
        Preempted = Preempted, Unreachable = Unreachable && !recovered, Recovery = Recovery is null ? lines : Recovery + " | " + lines,
    };

    /// <summary>What -AsExitCode makes of this report: 0 Healthy, Done or Warn, 1 Escalate, 2 unreachable.</summary>
    public int ExitCode => Unreachable ? 2 : Verdict == "Escalate" ? 1 : 0;
}
