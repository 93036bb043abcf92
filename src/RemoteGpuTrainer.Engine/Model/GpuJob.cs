namespace RemoteGpuTrainer.Engine.Model;

/// <summary>A queue launched (or found) on one host.</summary>
public sealed class GpuQueue
{
    public string Name { get; init; } = "";
    public string QueueId { get; init; } = "";
    /// <summary>The cells this host owns.</summary>
    public string[] Cells { get; init; } = Array.Empty<string>();
    /// <summary>Started, Submitted (Slurm), AlreadyDone, Running, Done, Failed, Stopped.</summary>
    public string State { get; init; } = "";
    /// <summary>"tmux:&lt;session&gt;", "nohup" or "slurm".</summary>
    public string? Session { get; init; }
    public string RemoteRoot { get; init; } = "";
    public string? Launcher { get; init; }
    public int? LauncherPid { get; init; }
    public int StartAt { get; init; } = 1;
    /// <summary>Under Slurm: the jobs this start submitted, one per cell (array tasks as "&lt;id&gt;_&lt;task&gt;").</summary>
    public string[] SchedulerJobIds { get; init; } = Array.Empty<string>();
    /// <summary>What the scheduler said on stderr while accepting the jobs (sbatch warnings); each is also written as a warning.</summary>
    public string[] Warnings { get; init; } = Array.Empty<string>();
}

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

    public bool IsFinal => CellStates.IsFinal(State);

    public override string ToString() => $"{Name}/{QueueId}/{Cell}: {State}";
}

/// <summary>One file copied or transferred, with how it was verified.</summary>
public sealed class GpuTransfer
{
    public string Name { get; init; } = "";
    public string? Cell { get; init; }
    public string RemotePath { get; init; } = "";
    public string LocalPath { get; init; } = "";
    public long? Length { get; init; }
    public string? Sha256 { get; init; }
    /// <summary>For pulls: the SHA-256 the box computed for its file (the local copy matched it).</summary>
    public string? RemoteSha256 { get; init; }
    public bool Resumed { get; init; }
    public int Attempts { get; init; } = 1;
    /// <summary>Connections that moved the file at once in the last attempt (0 when skipped or sent in a batch).</summary>
    public int Connections { get; init; }
    public TimeSpan Duration { get; init; }
    /// <summary>Duration in seconds, for CSV and JSON.</summary>
    public double DurationSeconds => Duration.TotalSeconds;
    /// <summary>Copied, Skipped, Failed (and for pulls: Downloaded, Verified).</summary>
    public string Status { get; init; } = "";
    public string? Reason { get; init; }

    /// <summary>The same transfer, attributed to a queue cell.</summary>
    public GpuTransfer WithCell(string cell) => new()
    {
        Name = Name, Cell = cell, RemotePath = RemotePath, LocalPath = LocalPath, Length = Length, Sha256 = Sha256, RemoteSha256 = RemoteSha256,
        Resumed = Resumed, Attempts = Attempts, Connections = Connections, Duration = Duration, Status = Status, Reason = Reason,
    };
}
