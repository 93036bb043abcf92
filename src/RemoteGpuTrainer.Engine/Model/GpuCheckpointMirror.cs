namespace RemoteGpuTrainer.Engine.Model;

/// <summary>What one mirror tick did with one checkpoint file of one running cell.</summary>
public sealed class GpuCheckpointMirror
{
    public string Name { get; init; } = "";
    public string QueueId { get; init; } = "";
    public string Cell { get; init; } = "";
    /// <summary>The artifact's file name (latest.pth, best.pth).</summary>
    public string File { get; init; } = "";
    /// <summary>
    /// Mirrored (a new verified copy replaced the last one), Unchanged (the box's copy has the hash already
    /// mirrored: nothing moved), Busy (written in the last seconds: left for the next tick), or Refused (it did
    /// not arrive whole, or does not open as a safe checkpoint: the last good copy is kept).
    /// </summary>
    public string Status { get; init; } = "";
    /// <summary>The epoch read from the mirrored checkpoint (not from a log).</summary>
    public long? Epoch { get; init; }
    public string? LocalPath { get; init; }
    public string? RemotePath { get; init; }
    public string? Reason { get; init; }

    /// <summary>A copy refused, or a resume not proven: said as a warning; the rest goes to -Verbose.</summary>
    public bool NeedsAttention => Status is "Refused" or "ResumeNotProven";

    /// <summary>The line a tick writes for it: what happened and, where there is one, why.</summary>
    public string Message => Reason is null ? ToString() : $"{this}: {Reason}";

    public override string ToString() => $"{Name}/{QueueId}/{Cell} {File}: {Status}{(Epoch is null ? "" : $" (epoch {Epoch})")}";
}
