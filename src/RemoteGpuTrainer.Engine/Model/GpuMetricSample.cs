namespace RemoteGpuTrainer.Engine.Model;

/// <summary>One tick of the on-box sampler (Start-GpuMonitor): memory of the training's cgroup, CPU, disk and each GPU.</summary>
public sealed class GpuMetricSample
{
    public string Name { get; init; } = "";
    public DateTimeOffset Time { get; init; }
    /// <summary>v1 or v2 (the cgroup read), or none (no memory cgroup: the machine's RAM).</summary>
    public string Cgroup { get; init; } = "";
    public long? MemoryUsedBytes { get; init; }
    /// <summary>The limit where the kernel's OOM killer strikes; null when the box does not say.</summary>
    public long? MemoryLimitBytes { get; init; }
    public double? MemoryPercent => MemoryLimitBytes is > 0 && MemoryUsedBytes is not null ? Math.Round(100.0 * MemoryUsedBytes.Value / MemoryLimitBytes.Value, 1) : null;
    /// <summary>OOM kills counted by that cgroup so far; null when unknown.</summary>
    public long? OomKills { get; init; }
    public double? CpuPercent { get; init; }
    public double? Load1 { get; init; }
    public long? DataFreeBytes { get; init; }
    public long? DataFreeInodes { get; init; }
    /// <summary>Running cells and the RSS of each one's process tree.</summary>
    public Listed<GpuCellMemory> Cells { get; init; } = Listed<GpuCellMemory>.Empty;
    public Listed<GpuMetricReading> Gpus { get; init; } = Listed<GpuMetricReading>.Empty;
    /// <summary>False when nvidia-smi gave no fresh reading this tick (no GPU values is then not "idle").</summary>
    public bool GpuReadingOk { get; init; }
    /// <summary>The mean utilisation over the GPUs, for tables and Measure-Object.</summary>
    public double? GpuUtilPercent => Gpus.Any(g => g.UtilPercent is not null) ? Math.Round(Gpus.Where(g => g.UtilPercent is not null).Average(g => g.UtilPercent!.Value), 1) : null;
    public double? GpuMemoryUsedMiB => Gpus.Any(g => g.MemoryUsedMiB is not null) ? Gpus.Sum(g => g.MemoryUsedMiB ?? 0) : null;
    /// <summary>The cells as "queue/cell" names, joined (CSV keeps them).</summary>
    public string RunningCells => string.Join(",", Cells.Select(c => c.Cell));

    public override string ToString() => $"{Name} {Time:HH:mm:ss}";
}

public sealed record GpuCellMemory(string Cell, long RssBytes)
{
    public override string ToString() => $"{Cell}={Format.Bytes(RssBytes)}";
}

public sealed record GpuMetricReading(int Index, double? UtilPercent, double? MemoryUsedMiB, double? MemoryTotalMiB, double? PowerWatts, double? TemperatureC, double? SmClockMHz)
{
    public override string ToString() => $"GPU{Index} {UtilPercent}% {MemoryUsedMiB}/{MemoryTotalMiB} MiB";
}

/// <summary>What Start-GpuMonitor and Stop-GpuMonitor did on one host.</summary>
public sealed class GpuMonitor
{
    public string Name { get; init; } = "";
    /// <summary>Started, AlreadyRunning, Stopped, NotRunning, or Dead (a sampler that had died without stopping).</summary>
    public string Status { get; init; } = "";
    public int? Pid { get; init; }
    public int? IntervalSeconds { get; init; }
    public string Directory { get; init; } = "";
    /// <summary>Stop: the CPU time the sampler used (its nvidia-smi and every command it ran included), and for how long it ran.</summary>
    public double? CpuSeconds { get; init; }
    public double? RanSeconds { get; init; }
    /// <summary>Stop: CPU used as a percentage of one core over the time it ran.</summary>
    public double? CpuPercentOfCore => CpuSeconds is not null && RanSeconds is > 0 ? Math.Round(100 * CpuSeconds.Value / RanSeconds.Value, 3) : null;
    /// <summary>What was found on the way: a dead or stalled sampler replaced or cleaned up (also written as a warning).</summary>
    public string? Note { get; init; }
}
