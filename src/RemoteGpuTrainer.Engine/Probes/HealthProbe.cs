using System.Text;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Parsing;
using RemoteGpuTrainer.Engine.Scripts;

namespace RemoteGpuTrainer.Engine.Probes;

/// <summary>What Get-GpuHealth asks for beyond the host.</summary>
/// <param name="Forecast">Thresholds for what the on-box sampler's recent ticks foretell (when a monitor runs).</param>
public sealed record HealthOptions(int SampleSeconds = 0, int? ExpectedGpuCount = null, TimeSpan? ZombieMinimumAge = null, Monitoring.ForecastOptions? Forecast = null);

/// <summary>The Get-GpuHealth probe: one read-only script, one round trip, parsed and judged locally.</summary>
public static class HealthProbe
{
    public static readonly string[] QueryFields =
    {
        "index", "name", "uuid", "pci.bus_id", "temperature.gpu", "utilization.gpu", "utilization.memory",
        "memory.used", "memory.total", "clocks.current.sm", "clocks.max.sm", "power.draw", "power.limit", "pstate",
        "ecc.errors.uncorrected.volatile.total",
        "clocks_throttle_reasons.sw_power_cap", "clocks_throttle_reasons.hw_slowdown", "clocks_throttle_reasons.hw_thermal_slowdown",
        "clocks_throttle_reasons.hw_power_brake_slowdown", "clocks_throttle_reasons.sw_thermal_slowdown",
    };

    public static readonly TimeSpan DefaultZombieAge = TimeSpan.FromSeconds(120);

    public static string Script(GpuHost host, HealthOptions options) =>
        Monitoring.MonitorScripts.Tail(ScriptFor(host, options, "health-probe", "disks", "monitor"), host, (options.Forecast ?? new Monitoring.ForecastOptions()).History).Command;

    /// <summary>The probe's script with its parameters set, followed by <paramref name="files"/> (the patrol adds the queue state).</summary>
    internal static BoxScript ScriptFor(GpuHost host, HealthOptions options, params string[] files) =>
        BoxScript.Load(files)
            .Set("SAMPLES", Math.Max(1, options.SampleSeconds))
            .Set("QUERY", string.Join(',', QueryFields))
            .Set("DATA_DIR", host.DataDir)
            .Set("DURABLE_DIR", host.DurableDir)
            .Arguments(host.GpuDevicePath ?? Array.Empty<string>());

    public static GpuHealth Parse(GpuHost host, string output, HealthOptions options, DateTimeOffset checkedAt)
    {
        var s = ProbeSections.Parse(output);
        var findings = new List<GpuFinding>();
        var minAge = options.ZombieMinimumAge ?? DefaultZombieAge;

        // GPUs: every sample parsed; the first is the snapshot, the rest give means.
        var samples = new List<QueryGpuResult>();
        bool driverMissing = false, driverFailed = false;
        string? driverError = null;
        for (int i = 1; s.Has($"gpu-{i}"); i++)
        {
            var rc = s.ExitCode($"gpu-{i}");
            var text = s[$"gpu-{i}"];
            if (rc == Scripts.BoxExit.NoCommand) { driverMissing = true; break; }
            if (rc is not 0) { driverFailed = true; driverError = FirstLine(text); break; }
            samples.Add(NvidiaSmiCsv.Parse(text));
        }
        var gpus = samples.FirstOrDefault()?.Gpus ?? Array.Empty<GpuDevice>();
        foreach (var p in samples.SelectMany(x => x.Problems).Distinct())
            findings.Add(new GpuFinding("driver", HealthStatus.Warn, $"nvidia-smi output could not be read fully: {p}. Re-run; if it persists, the driver is misbehaving."));

        var xids = XidParser.Parse(s["klog"]);
        var klogReadable = s.ExitCode("klog") == 0;
        // A listing that failed, timed out or was cut off is not "no apps": without it no holder can be judged.
        var appsKnown = s.ExitCode("apps") == 0;
        var apps = appsKnown ? ProcessParsers.ParseComputeApps(s["apps"]) : Array.Empty<ComputeApp>();
        var devices = s["devices"].Split('\n', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
        var holders = ProcessParsers.ParseHolders(s["holders"], devices);
        var ps = ProcessParsers.ParsePs(s["ps"]);
        var disks = new List<GpuDiskUsage>();
        if (!string.IsNullOrEmpty(host.DataDir)) disks.Add(Disk("data", host.DataDir!, s, "df-data"));
        if (!string.IsNullOrEmpty(host.DurableDir)) disks.Add(Disk("durable", host.DurableDir!, s, "df-durable"));
        var memory = Cgroup(s["cgroup"]);

        var zombies = new List<GpuZombie>();
        var visible = apps.Select(a => a.Pid).ToHashSet();
        var foreignPids = apps.Where(a => !ps.ContainsKey(a.Pid)).Select(a => a.Pid).ToList();
        if (!appsKnown && holders.Count > 0)
        {
            var why = s.ExitCode("apps") is { } rc ? $"exit {rc}: {FirstLine(s["apps"])}" : "no answer";
            findings.Add(new GpuFinding("zombies", HealthStatus.Warn,
                $"nvidia-smi could not list its compute apps ({why}), so the {holders.Count} processes holding GPU device files cannot be told apart from live training: no zombie is reported. Check the driver (Xid, 'Unknown Error') before killing anything."));
        }
        else if (foreignPids.Count > 0 && holders.Count > 0)
        {
            findings.Add(new GpuFinding("zombies", HealthStatus.Warn,
                $"nvidia-smi lists compute PIDs ({string.Join(", ", foreignPids.Take(5))}) that do not exist here: it sees another PID namespace (a container), so VRAM holders cannot be matched and no zombie is reported. Check from the host, or compare memory use with nvidia-smi."));
        }
        else
        {
            foreach (var (pid, files) in holders.OrderBy(h => h.Key))
            {
                if (visible.Contains(pid) || !ps.TryGetValue(pid, out var info)) continue;
                if (info.AgeSeconds < minAge.TotalSeconds) continue;
                zombies.Add(new GpuZombie
                {
                    Name = host.Name, Pid = pid, Command = info.Command, User = info.User, Age = TimeSpan.FromSeconds(info.AgeSeconds),
                    Gpu = GpuOf(files), StartTime = info.StartTime, DeviceFiles = files.ToArray(),
                });
            }
        }

        var gpuHealth = HealthRules.Judge(host, gpus, samples, driverMissing, driverFailed, driverError, xids, klogReadable, s["klog"], disks, memory, zombies, options, findings);
        // A monitor's recent ticks, when one runs: forecasts with their evidence (none without samples).
        if (s.Has("monitor") && s.ExitCode("monitor") == 0)
            findings.AddRange(Monitoring.Forecast.Findings(Monitoring.MetricLine.ParseAll(host.Name, s["monitor"].Split('\n')), options.Forecast ?? new Monitoring.ForecastOptions(), checkedAt));
        return new GpuHealth
        {
            Name = host.Name,
            Level = findings.Count == 0 ? HealthStatus.Pass : findings.Max(f => f.Level),
            Gpus = gpuHealth,
            Zombie = zombies.ToArray(),
            Xid = xids.ToArray(),
            Disk = disks.ToArray(),
            Memory = memory,
            Findings = findings.OrderByDescending(f => f.Level).ToArray(),
            CheckedAt = checkedAt,
            Samples = Math.Max(1, samples.Count),
        };
    }

    static int? GpuOf(IEnumerable<string> files)
    {
        foreach (var f in files)
        {
            var m = System.Text.RegularExpressions.Regex.Match(Path.GetFileName(f), @"^nvidia(\d+)$");
            if (m.Success) return int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        }
        return null;
    }

    internal static GpuDiskUsage Disk(string role, string path, ProbeSections s, string section)
    {
        if (s.ExitCode(section) != 0) return new GpuDiskUsage(role, path, false, null, null, null, null, null, null, null, null, null);
        var text = s[section];
        var (bytes, inodes) = DfParser.BytesAndInodes(text);
        return new GpuDiskUsage(role, path, true, bytes?.MountedOn, bytes?.Total, bytes?.Used, bytes?.Available, bytes?.UsePercent,
            inodes?.Total, inodes?.Used, inodes?.Available, inodes?.UsePercent);
    }

    static CgroupMemory? Cgroup(string text)
    {
        var lines = text.Split('\n');
        var version = lines.FirstOrDefault()?.Trim();
        if (version is not ("v1" or "v2")) return null;
        var files = new Dictionary<string, StringBuilder>();
        StringBuilder? cur = null;
        foreach (var l in lines.Skip(1))
        {
            if (l.StartsWith('#')) { cur = files[l[1..].Trim()] = new StringBuilder(); continue; }
            cur?.Append(l).Append('\n');
        }
        string? F(string n) => files.TryGetValue(n, out var b) ? b.ToString() : null;
        return version == "v2"
            ? CgroupMemory.FromV2(F("memory.max"), F("memory.current"), F("memory.events"))
            : CgroupMemory.FromV1(F("memory.limit_in_bytes"), F("memory.usage_in_bytes"), F("memory.oom_control"));
    }

    static string FirstLine(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault()?.Trim() ?? "(no output)";
}
