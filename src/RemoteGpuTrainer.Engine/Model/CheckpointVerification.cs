using RemoteGpuTrainer.Engine.Checkpoints;

namespace RemoteGpuTrainer.Engine.Model;

/// <summary>The verdict on one checkpoint file or cell folder.</summary>
public sealed record CheckpointVerification
{
    /// <summary>The host the file came from, when known (pulled by Receive-Checkpoint): pipes by name into the host cmdlets.</summary>
    public string? Name { get; init; }
    /// <summary>The cell (its folder's name), or the file's name for a loose file.</summary>
    public string Cell { get; init; } = "";
    public string Path { get; init; } = "";
    /// <summary>Verified or Failed.</summary>
    public string Status { get; init; } = "Failed";
    public string? Reason { get; init; }
    /// <summary>TorchZip, TorchScript, LegacyPickle, Pickle, Safetensors, or what else was recognised.</summary>
    public string? Format { get; init; }
    /// <summary>Safe, NeedsTrust or Unsafe as its name (so JSON and CSV carry the word); null when the file could not be read.</summary>
    public string? Safety => SafetyLevel?.ToString();
    internal CheckpointSafety? SafetyLevel { get; init; }
    public Listed<string> Globals { get; init; } = Listed<string>.Empty;
    public Listed<string> UnsafeGlobals { get; init; } = Listed<string>.Empty;
    public string? WeightsKey { get; init; }
    public long? Epoch { get; init; }
    public string? MetricName { get; init; }
    public double? Metric { get; init; }
    public string? Sha256 { get; init; }
    public long? Length { get; init; }
    /// <summary>The file on the box it was pulled from, when known.</summary>
    public string? RemotePath { get; init; }
}
