namespace RemoteGpuTrainer.Engine.Model;

/// <summary>One GPU as nvidia-smi reports it. Values nvidia-smi could not give are null.</summary>
public sealed class GpuDevice
{
    public int? Index { get; init; }
    public string? Name { get; init; }
    public string? Uuid { get; init; }
    public string? BusId { get; init; }
    public double? TemperatureC { get; init; }
    public double? GpuUtilization { get; init; }
    public double? MemoryUtilization { get; init; }
    public double? MemoryUsedMiB { get; init; }
    public double? MemoryTotalMiB { get; init; }
    public double? SmClockMHz { get; init; }
    public double? SmClockMaxMHz { get; init; }
    public double? PowerDrawW { get; init; }
    public double? PowerLimitW { get; init; }
    public string? PState { get; init; }
    public long? UncorrectedEcc { get; init; }
    /// <summary>Clock event ("throttle") reasons reported Active, e.g. hw_slowdown, sw_power_cap.</summary>
    public Listed<string> ThrottleReasons { get; init; } = Listed<string>.Empty;
    /// <summary>nvidia-smi printed [GPU is lost] for this device.</summary>
    public bool Lost { get; init; }
    /// <summary>Fields that came back as [N/A], [Not Supported], [Unknown Error] and the like.</summary>
    public Listed<string> Unavailable { get; init; } = Listed<string>.Empty;

    /// <summary>The readings in one line: what ConvertTo-Json shows where it stops descending.</summary>
    public override string ToString() =>
        $"GPU {Index} {Name}: {TemperatureC} C, {GpuUtilization}% util, {MemoryUsedMiB}/{MemoryTotalMiB} MiB, {SmClockMHz}/{SmClockMaxMHz} MHz, {PowerDrawW}/{PowerLimitW} W"
        + (ThrottleReasons.Length > 0 ? ", " + string.Join(" ", ThrottleReasons) : "");
}

/// <summary>One NVIDIA Xid line from the kernel log.</summary>
public sealed record XidEvent(int Code, string Device, string? Time, string Message, bool HardwareClass)
{
    public override string ToString() => $"Xid {Code} on {Device}{(Time is null ? "" : " at " + Time)}";
}
