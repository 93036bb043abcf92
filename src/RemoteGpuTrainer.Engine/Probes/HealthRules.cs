using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Parsing;

namespace RemoteGpuTrainer.Engine.Probes;

/// <summary>
/// The health status rules: each check escalates PASS → WARN → FAIL and adds a finding
/// naming the evidence and the fix a tenant can apply.
/// </summary>
public static class HealthRules
{
    const string Rerent = "stop this instance and rent a different box";
    static readonly string[] FailReasons = { "hw_slowdown", "hw_thermal_slowdown", "hw_power_brake_slowdown", "sw_thermal_slowdown" };
    public const double HotCelsius = 83;

    /// <summary>The disk rule: the data mount fails at 95%, warns at 85% (bytes or inodes); a missing directory warns.</summary>
    public static void JudgeDisks(IReadOnlyList<GpuDiskUsage> disks, List<GpuFinding> findings)
    {
        void Add(string check, HealthStatus status, string message) => findings.Add(new GpuFinding(check, status, message));
        foreach (var d in disks)
        {
            if (!d.Exists) { Add("disk", HealthStatus.Warn, $"{d.Role} dir {d.Path} does not exist — set it with Set-GpuHost or create it."); continue; }
            if (d.Role != "data") continue;
            var worst = d.WorstPercent ?? 0;
            var what = $"{d.Path} on {d.MountedOn}: bytes {d.UsedPercent}% used ({Format.Bytes(d.FreeBytes)} free), inodes {d.InodesUsedPercent}% used ({d.InodesFree} free)";
            if (worst >= 95) Add("disk", HealthStatus.Fail, $"{what} — a checkpoint save will fail; prune scratch (latest.pth, caches) or expand the disk. Inodes run out on small files even when bytes look fine.");
            else if (worst >= 85) Add("disk", HealthStatus.Warn, $"{what} — plan to prune scratch or expand before the next save.");
        }
    }

    public static GpuDeviceHealth[] Judge(
        GpuHost host, IReadOnlyList<GpuDevice> gpus, IReadOnlyList<QueryGpuResult> samples,
        bool driverMissing, bool driverFailed, string? driverError,
        IReadOnlyList<XidEvent> xids, bool klogReadable, string klogText,
        IReadOnlyList<GpuDiskUsage> disks, CgroupMemory? memory, IReadOnlyList<GpuZombie> zombies,
        HealthOptions options, List<GpuFinding> findings)
    {
        void Add(string check, HealthStatus status, string message) => findings.Add(new GpuFinding(check, status, message));

        // driver
        if (driverMissing) Add("driver", HealthStatus.Fail, $"nvidia-smi is not on the PATH: no NVIDIA driver is usable — {Rerent}.");
        else if (driverFailed) Add("driver", HealthStatus.Fail, $"nvidia-smi failed: \"{driverError}\" — the driver cannot talk to the GPU; {Rerent}.");
        else if (gpus.Count == 0) Add("driver", HealthStatus.Fail, $"nvidia-smi lists no GPU — {Rerent}.");
        if (options.ExpectedGpuCount is { } expected && !driverMissing && !driverFailed && gpus.Count != expected)
            Add("driver", HealthStatus.Fail, $"expected {expected} GPUs, nvidia-smi lists {gpus.Count} — you are paying for GPUs you cannot use; {Rerent}.");

        // kernel log
        if (!klogReadable)
            Add("xid", HealthStatus.Warn, $"the kernel log is unreadable (\"{klogText.Split('\n')[0].Trim()}\"): cannot rule out a hardware Xid. Check the platform's console or ask the provider.");
        foreach (var g in xids.GroupBy(x => (x.Code, x.Device)))
        {
            var x = g.Last();
            if (x.HardwareClass)
                Add("xid", HealthStatus.Fail, $"Xid {x.Code} on {x.Device} ({Describe(x.Code)}; {g.Count()}x, last at {x.Time ?? "unknown time"}): \"{x.Message}\" — hardware-class error; {Rerent}.");
            else
                Add("xid", HealthStatus.Warn, $"Xid {x.Code} on {x.Device} ({g.Count()}x, last at {x.Time ?? "unknown time"}): \"{x.Message}\" — usually an application fault; check the job's log around that time.");
        }

        // per GPU
        var result = new List<GpuDeviceHealth>();
        foreach (var gpu in gpus)
        {
            var status = HealthStatus.Pass;
            void Gpu(HealthStatus st, string msg) { Add("gpu", st, $"GPU {gpu.Index}: {msg}"); if (st > status) status = st; }
            if (gpu.Lost) Gpu(HealthStatus.Fail, $"nvidia-smi reports [GPU is lost] — the GPU fell off the bus; {Rerent}.");
            var failing = gpu.ThrottleReasons.Intersect(FailReasons).ToList();
            if (failing.Count > 0)
                Gpu(HealthStatus.Fail, $"clocks held down by {string.Join(", ", failing)} (SM {gpu.SmClockMHz} of {gpu.SmClockMaxMHz} MHz, {gpu.TemperatureC} °C) — the box is throttling in hardware; training will crawl. {Rerent}.");
            else if (gpu.TemperatureC >= HotCelsius && gpu.SmClockMHz is { } sm && gpu.SmClockMaxMHz is > 0 && sm < 0.7 * gpu.SmClockMaxMHz.Value)
                Gpu(HealthStatus.Fail, $"{gpu.TemperatureC} °C with SM clock {sm} of {gpu.SmClockMaxMHz} MHz (< 70%) — thermal throttling; {Rerent}.");
            else if (gpu.TemperatureC >= HotCelsius)
                Gpu(HealthStatus.Warn, $"{gpu.TemperatureC} °C (≥ {HotCelsius} °C) with clocks still high (SM {gpu.SmClockMHz} of {gpu.SmClockMaxMHz} MHz) — watch it; cooling is marginal.");
            if (gpu.ThrottleReasons.Contains("sw_power_cap") && failing.Count == 0)
                Gpu(HealthStatus.Warn, $"software power cap active (power {gpu.PowerDrawW} of {gpu.PowerLimitW} W) — clocks are limited by the power limit.");
            if (gpu.UncorrectedEcc > 0)
                Gpu(HealthStatus.Fail, $"{gpu.UncorrectedEcc} uncorrected volatile ECC errors — results on this GPU cannot be trusted; {Rerent}.");
            var means = samples.Skip(1).Any() ? samples.Select(x => x.Gpus.FirstOrDefault(d => d.Index == gpu.Index)).Where(d => d is not null).ToList() : null;
            result.Add(new GpuDeviceHealth
            {
                Device = gpu,
                Level = status,
                MeanSmClockMHz = means is null ? null : Mean(means.Select(d => d!.SmClockMHz)),
                MeanPowerDrawW = means is null ? null : Mean(means.Select(d => d!.PowerDrawW)),
                MeanGpuUtilization = means is null ? null : Mean(means.Select(d => d!.GpuUtilization)),
            });
        }

        JudgeDisks(disks, findings);

        // memory (cgroup)
        if (memory?.OomKills > 0)
            Add("memory", HealthStatus.Fail, $"the container's OOM killer has killed {memory.OomKills} process(es) (memory.events oom_kill) — a job died of host RAM; lower batch/worker counts or cap validation accumulators.");
        else if (memory?.UsedPercent >= 90)
            Add("memory", HealthStatus.Warn, $"host RAM at {memory.UsedPercent:0}% of the container limit ({Format.Bytes(memory.UsageBytes)} of {Format.Bytes(memory.LimitBytes)}) — the OOM killer is near.");

        // zombies
        foreach (var z in zombies)
            Add("zombies", HealthStatus.Warn, $"PID {z.Pid} ({z.User}, {z.Age.TotalMinutes:0} min old, \"{Short(z.Command)}\") holds {string.Join(", ", z.DeviceFiles)} but is not a compute app nvidia-smi knows — it may pin VRAM; stop it with Stop-GpuZombie.");

        return result.ToArray();
    }

    static string Describe(int code) => code switch
    {
        48 => "double-bit ECC error",
        79 => "GPU has fallen off the bus",
        62 => "internal micro-controller halt",
        64 => "ECC page retirement or row remapping failure",
        74 => "NVLink error",
        92 => "high single-bit ECC error rate",
        94 => "contained ECC error",
        95 => "uncontained ECC error",
        _ => "hardware",
    };

    static double? Mean(IEnumerable<double?> values)
    {
        var v = values.Where(x => x is not null).Select(x => x!.Value).ToList();
        return v.Count == 0 ? null : v.Average();
    }

    static string Short(string s) => s.Length <= 60 ? s : s[..57] + "...";
}
