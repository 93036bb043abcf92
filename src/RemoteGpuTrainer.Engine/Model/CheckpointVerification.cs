using RemoteGpuTrainer.Engine.Checkpoints;

namespace RemoteGpuTrainer.Engine.Model;

/// <summary>The verdict on one checkpoint file or cell folder.</summary>
public sealed class CheckpointVerification
{
    public string Name { get; init; } = "";
    public string Path { get; init; } = "";
    /// <summary>Verified or Failed.</summary>
    public string Status { get; init; } = "Failed";
    public string? Reason { get; init; }
    /// <summary>TorchZip, TorchScript, LegacyPickle, Pickle, Safetensors, or what else was recognised.</summary>
    public string? Format { get; init; }
    public CheckpointSafety? Safety { get; init; }
    public string[] Globals { get; init; } = Array.Empty<string>();
    public string[] UnsafeGlobals { get; init; } = Array.Empty<string>();
    public string? WeightsKey { get; init; }
    public long? Epoch { get; init; }
    public string? MetricName { get; init; }
    public double? Metric { get; init; }
    public string? Sha256 { get; init; }
    public long? Length { get; init; }
    /// <summary>Where the file came from, when known (a GpuTransfer): host and remote path.</summary>
    public string? Host { get; init; }
    public string? RemotePath { get; init; }
}
