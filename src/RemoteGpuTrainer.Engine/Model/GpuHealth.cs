namespace RemoteGpuTrainer.Engine.Model;

public enum HealthStatus { Pass, Warn, Fail }

/// <summary>One escalation: which check, how bad, and a message naming the evidence and the fix.</summary>
public sealed class GpuFinding
{
    public GpuFinding(string check, HealthStatus level, string message) { Check = check; Level = level; Message = message; }

    public string Check { get; }
    /// <summary>Pass, Warn or Fail, as its name (so JSON and CSV carry the word).</summary>
    public string Status => Level.ToString();
    public string Message { get; }
    internal HealthStatus Level { get; }

    public override string ToString() => $"{Status.ToUpperInvariant()} {Check}: {Message}";
}

/// <summary>A process that holds a GPU device file open but is not a compute app nvidia-smi knows of.</summary>
public sealed record GpuZombie
{
    public string Name { get; init; } = "";
    public int Pid { get; init; }
    public string Command { get; init; } = "";
    public string? User { get; init; }
    public TimeSpan Age { get; init; }
    /// <summary>Age in seconds, for CSV and JSON.</summary>
    public double AgeSeconds => Age.TotalSeconds;
    /// <summary>The GPU index when the process holds /dev/nvidiaN; null when only nvidiactl/uvm.</summary>
    public int? Gpu { get; init; }
    /// <summary>The process start time as ps printed it (lstart); re-checked before a kill.</summary>
    public string StartTime { get; init; } = "";
    public Listed<string> DeviceFiles { get; init; } = Listed<string>.Empty;
    /// <summary>Set by Stop-GpuZombie.</summary>
    public bool? Killed { get; init; }
    public string? Reason { get; init; }

    public override string ToString() => $"{Name} PID {Pid}";
}

/// <summary>Bytes and inodes of one directory's file system.</summary>
public sealed record GpuDiskUsage(
    string Role, string Path, bool Exists, string? MountedOn,
    long? SizeBytes, long? UsedBytes, long? FreeBytes, int? UsedPercent,
    long? Inodes, long? InodesUsed, long? InodesFree, int? InodesUsedPercent)
{
    public int? WorstPercent => UsedPercent is null && InodesUsedPercent is null ? null : Math.Max(UsedPercent ?? 0, InodesUsedPercent ?? 0);

    public override string ToString() => Exists
        ? $"{Role} {Path}: {UsedPercent}% bytes ({Format.Bytes(FreeBytes)} free), {InodesUsedPercent}% inodes"
        : $"{Role} {Path}: missing";
}

/// <summary>The health of one host from one probe round trip.</summary>
public sealed class GpuHealth
{
    public string Name { get; init; } = "";
    /// <summary>Pass, Warn or Fail, as its name (so JSON and CSV carry the word).</summary>
    public string Status => Level.ToString();
    internal HealthStatus Level { get; init; }
    /// <summary>The GPUs; as text, a summary such as "8× H100 80GB HBM3, max 71 °C".</summary>
    public Listed<GpuDeviceHealth> Gpus { get => _gpus; init => _gpus = new(value, Summary); }
    readonly Listed<GpuDeviceHealth> _gpus = new(Array.Empty<GpuDeviceHealth>(), Summary);

    static string Summary(IReadOnlyList<GpuDeviceHealth> gpus) => gpus.Count == 0 ? "none"
        : string.Join(", ", gpus.GroupBy(g => g.Device.Name ?? "?").Select(g => $"{g.Count()}× {g.Key}"))
          + (gpus.Select(g => g.Device.TemperatureC).Max() is { } t ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $", max {t:0} °C") : "");
    public Listed<GpuZombie> Zombie { get; init; } = Listed<GpuZombie>.Empty;
    public Listed<XidEvent> Xid { get; init; } = Listed<XidEvent>.Empty;
    public Listed<GpuDiskUsage> Disk { get; init; } = Listed<GpuDiskUsage>.Empty;
    public Parsing.CgroupMemory? Memory { get; init; }
    public Listed<GpuFinding> Findings { get; init; } = Listed<GpuFinding>.Empty;
    public DateTimeOffset CheckedAt { get; init; }
    /// <summary>How many nvidia-smi samples the GPU values come from (1 = a point read).</summary>
    public int Samples { get; init; } = 1;
    /// <summary>On a Slurm login node: every node of every partition as sinfo reports it.</summary>
    public Listed<GpuSlurmNode> Nodes { get; init; } = Listed<GpuSlurmNode>.Empty;
    /// <summary>On Slurm with -Node/-Partition: the compute node the probe ran on.</summary>
    public string? ProbedNode { get; init; }
    /// <summary>On Slurm with -Node/-Partition: the probe job could not start in time (the cluster is full).</summary>
    public bool ProbePending { get; init; }

    /// <summary>The same result, taken on a compute node.</summary>
    public GpuHealth WithNode(string node) => new()
    {
        Name = Name, Level = Level, Gpus = Gpus, Zombie = Zombie, Xid = Xid, Disk = Disk, Memory = Memory, Findings = Findings,
        CheckedAt = CheckedAt, Samples = Samples, Nodes = Nodes, ProbedNode = node, ProbePending = ProbePending,
    };

    public string GpuSummary => Gpus.Length == 0 ? "none"
        : string.Join(", ", Gpus.GroupBy(g => g.Device.Name ?? "?").Select(g => $"{g.Count()}x {g.Key}"));

    public double? MaxTemperatureC => Gpus.Select(g => g.Device.TemperatureC).Max();

    /// <summary>How many zombie VRAM holders were found (the table's Zombies column).</summary>
    public int ZombieCount => Zombie.Length;

    /// <summary>The fullest disk's bytes used, in percent (the data and durable directories).</summary>
    public int? DiskPercent => Disk.Select(d => d.UsedPercent).Max();

    /// <summary>The fullest disk's inodes used, in percent.</summary>
    public int? InodePercent => Disk.Select(d => d.InodesUsedPercent).Max();

    /// <summary>The most severe finding's text, or null when there is none.</summary>
    public string? TopFinding => Findings.FirstOrDefault()?.ToString();

    public override string ToString() => $"{Name}: {Status}";
}

/// <summary>A Slurm node in one partition: sinfo's long state (idle, mixed, allocated, drained, down*…), its reason and gres.</summary>
public sealed record GpuSlurmNode(string Node, string Partition, string State, string? Reason, string? Gres)
{
    public override string ToString() => $"{Node} ({Partition}) {State}{(Reason is null ? "" : ": " + Reason)}";
}

/// <summary>A GPU with its own status and, when sampled, mean clocks, power and utilization.</summary>
public sealed class GpuDeviceHealth
{
    public GpuDevice Device { get; init; } = new();
    /// <summary>Pass, Warn or Fail, as its name.</summary>
    public string Status => Level.ToString();
    internal HealthStatus Level { get; init; }
    public double? MeanSmClockMHz { get; init; }
    public double? MeanPowerDrawW { get; init; }
    public double? MeanGpuUtilization { get; init; }

    // The readings a table shows, as properties of their own: Export-Csv and ConvertTo-Json's default depth keep them.
    public int? Index => Device.Index;
    /// <summary>The GPU's model (Name is kept for hosts on every output type).</summary>
    public string? Model => Device.Name;
    public double? TemperatureC => Device.TemperatureC;
    public double? GpuUtilization => Device.GpuUtilization;
    public double? MemoryUsedMiB => Device.MemoryUsedMiB;
    public double? MemoryTotalMiB => Device.MemoryTotalMiB;
    public double? SmClockMHz => Device.SmClockMHz;
    public double? SmClockMaxMHz => Device.SmClockMaxMHz;
    public double? PowerDrawW => Device.PowerDrawW;
    public double? PowerLimitW => Device.PowerLimitW;
    public Listed<string> ThrottleReasons => Device.ThrottleReasons;

    public override string ToString() => $"GPU {Index} {Model} {Status}";
}
