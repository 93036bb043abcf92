namespace RemoteGpuTrainer.Engine.Model;

/// <summary>Whether a sweep fits on one mount, in bytes and in inodes.</summary>
public sealed class GpuDiskBudget
{
    public string Name { get; init; } = "";
    public string Role { get; init; } = "";
    public string Path { get; init; } = "";
    public string? MountedOn { get; init; }
    public long? FreeBytes { get; init; }
    public long NeededBytes { get; init; }
    public long? FreeInodes { get; init; }
    public long NeededInodes { get; init; }
    public long? CellsFitBytes { get; init; }
    public long? CellsFitInodes { get; init; }
    public long? CellsFit => CellsFitBytes is null || CellsFitInodes is null ? null : Math.Min(CellsFitBytes.Value, CellsFitInodes.Value);
    /// <summary>bytes, inodes, or none.</summary>
    public string RunsOutFirst { get; init; } = "none";
    public bool Enough { get; init; }
}
