namespace RemoteGpuTrainer.Engine.Model;

/// <summary>What Test-GpuHost found on one host in one round trip.</summary>
public sealed class GpuHostTest
{
    public string Name { get; init; } = "";
    public bool Reachable { get; init; }
    public string? HostKeyFingerprint { get; init; }
    public TimeSpan? Latency { get; init; }
    /// <summary>Latency in seconds, for CSV and JSON.</summary>
    public double? LatencySeconds => Latency?.TotalSeconds;
    public string? OS { get; init; }
    public int GpuCount { get; init; }
    public Listed<string> GpuNames { get; init; } = Listed<string>.Empty;
    public string? Driver { get; init; }
    public string? CudaVersion { get; init; }
    public string? Python { get; init; }
    public bool Tmux { get; init; }
    /// <summary>The data directory's check (path, whether it exists, free bytes and inodes); the flat properties below repeat it for CSV.</summary>
    public GpuDirectoryCheck? DataDirCheck { get; init; }
    public GpuDirectoryCheck? DurableDirCheck { get; init; }
    public string? DataDir => DataDirCheck?.Path;
    public bool? DataDirExists => DataDirCheck?.Exists;
    public long? DataFreeBytes => DataDirCheck?.FreeBytes;
    public long? DataFreeInodes => DataDirCheck?.FreeInodes;
    public string? DurableDir => DurableDirCheck?.Path;
    public bool? DurableDirExists => DurableDirCheck?.Exists;
    public long? DurableFreeBytes => DurableDirCheck?.FreeBytes;
    public long? DurableFreeInodes => DurableDirCheck?.FreeInodes;
    public int FindingCount => Findings.Length;
    public Listed<string> Findings { get; init; } = Listed<string>.Empty;
    /// <summary>How long the box has been up (its /proc/uptime).</summary>
    public TimeSpan? Uptime { get; init; }
    public double? UptimeSeconds => Uptime?.TotalSeconds;
    /// <summary>For an unreachable host: the ErrorId of its error record (HostUnreachable, SshTimeout, HostKeyMismatch, ...).</summary>
    public string? Error { get; init; }
    public DateTimeOffset CheckedAt { get; init; }

    /// <summary>What Test-GpuHost reports, besides the error record, for a host it could not test.</summary>
    public static GpuHostTest Unreachable(string name, string errorId, string message, DateTimeOffset at) =>
        new() { Name = name, Reachable = false, Error = errorId, Findings = new[] { message }, CheckedAt = at };

    /// <summary>GPUs in a short form for tables, e.g. "8x NVIDIA H100 80GB HBM3".</summary>
    public string GpuSummary => GpuNames.Length == 0 ? "none"
        : string.Join(", ", GpuNames.GroupBy(n => n).Select(g => $"{g.Count()}x {g.Key}"));
}

/// <summary>A remote directory: whether it exists and the free bytes and inodes of its file system.</summary>
public sealed record GpuDirectoryCheck(string Path, bool Exists, long? FreeBytes, long? TotalBytes, long? FreeInodes, long? TotalInodes, string? MountedOn)
{
    /// <summary>Free bytes in human units, for views.</summary>
    public string FreeText => Exists ? Format.Bytes(FreeBytes) : "missing";

    public override string ToString() => Exists ? $"{Path} ({Format.Bytes(FreeBytes)} free, {FreeInodes?.ToString() ?? "?"} inodes free)" : $"{Path} (missing)";
}
