namespace RemoteGpuTrainer.Engine.Model;

/// <summary>One cell of a queue on one host.</summary>
public sealed class GpuJob
{
    public string Name { get; init; } = "";
    public string QueueId { get; init; } = "";
    public int Index { get; init; }
    public string Cell { get; init; } = "";
    /// <summary>
    /// Pending, Running, Succeeded, Failed, NoArtifact (exit 0 without the kept artifact), SyncFailed or
    /// Stale; under Slurm also Requeued (pending again after it ran), Suspended, Cancelled, Interrupted
    /// (signalled, about to be requeued) and Unknown (squeue did not answer).
    /// </summary>
    public string State { get; init; } = "Pending";
    public int? ExitCode { get; init; }
    public DateTimeOffset? StartedAt { get; init; }
    public DateTimeOffset? FinishedAt { get; init; }
    public TimeSpan? Duration => StartedAt is null ? null : (FinishedAt ?? DateTimeOffset.UtcNow) - StartedAt;
    /// <summary>Duration in seconds, for CSV and JSON.</summary>
    public double? DurationSeconds => Duration?.TotalSeconds;
    public int? Epoch { get; init; }
    public int? Epochs { get; init; }
    public string? LastLine { get; init; }
    /// <summary>The first crash signature found in this cell's own log (Traceback, CUDA out of memory, Killed, ...).</summary>
    public string? Crash { get; init; }
    /// <summary>Why the cell is not Succeeded when its markers say (NoArtifact, SyncFailed); under Slurm the pending reason (Resources, Priority, QOSMaxJobsPerUserLimit, BeginTime…).</summary>
    public string? Reason { get; init; }
    /// <summary>The Slurm job id of the cell's newest submission ("&lt;array id&gt;_&lt;task&gt;" for an array task).</summary>
    public string? SchedulerJobId { get; init; }
    public string? NodeList { get; init; }
    /// <summary>How many times Slurm restarted the job (SLURM_RESTART_COUNT when it last started).</summary>
    public int? Restarts { get; init; }
    /// <summary>When a pending job was submitted: how long it has waited.</summary>
    public DateTimeOffset? PendingSince { get; init; }
    public string LogPath { get; init; } = "";
    public string CheckpointDir { get; init; } = "";
    public string? DurableDir { get; init; }
    /// <summary>For a queue started with -Recover: the newest epoch of this cell's mirrored checkpoints (read from the checkpoint), and where they are.</summary>
    public long? LastMirroredEpoch { get; internal set; }
    public string? MirrorDir { get; internal set; }
    /// <summary>For a queue started with -Recover: how many times it was recovered, the epoch this cell had to go on from at the last one, and whether its first checkpoint after it showed a later epoch (null: not judged yet).</summary>
    public int? Recoveries { get; internal set; }
    /// <summary>The boxes the cell trained on and the epochs on each, when a recovery moved it: "rental 12 epoch 0–7 → rental 15 epoch 7–12".</summary>
    public string? RecoveredFrom { get; internal set; }
    public long? ResumedFromEpoch { get; internal set; }
    public bool? ResumeProven { get; internal set; }

    public bool IsFinal => CellStates.IsFinal(State);

    public override string ToString() => $"{Name}/{QueueId}/{Cell}: {State}";
}

