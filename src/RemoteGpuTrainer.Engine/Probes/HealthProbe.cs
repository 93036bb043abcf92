using System.Text;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Parsing;
using RemoteGpuTrainer.Engine.Text;

namespace RemoteGpuTrainer.Engine.Probes;

/// <summary>What Get-GpuHealth asks for beyond the host.</summary>
public sealed record HealthOptions(int SampleSeconds = 0, int? ExpectedGpuCount = null, TimeSpan? ZombieMinimumAge = null);

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

    public static string Script(GpuHost host, HealthOptions options)
    {
        var sb = new StringBuilder();
        sb.Append("export LC_ALL=C; t() { if command -v timeout >/dev/null 2>&1; then timeout 30 \"$@\"; else \"$@\"; fi; }\n");
        var setDevices = DeviceSet(host);
        sb.Append(ProbeSections.Emit("devices", setDevices + "; for f in \"$@\"; do [ -e \"$f\" ] && printf '%s\\n' \"$f\"; done; exit 0"));
        var samples = Math.Max(1, options.SampleSeconds);
        var query = $"t nvidia-smi --query-gpu={string.Join(',', QueryFields)} --format=csv,nounits";
        for (int i = 1; i <= samples; i++)
        {
            if (i > 1) sb.Append("sleep 1\n");
            sb.Append(ProbeSections.Emit($"gpu-{i}", $"command -v nvidia-smi >/dev/null 2>&1 || {{ echo 'nvidia-smi: command not found'; exit 127; }}; {query}"));
        }
        sb.Append(ProbeSections.Emit("apps", "command -v nvidia-smi >/dev/null 2>&1 || exit 127; t nvidia-smi --query-compute-apps=pid,process_name,gpu_uuid,used_memory --format=csv,noheader,nounits"));
        sb.Append(ProbeSections.Emit("klog",
            "if out=$(t dmesg 2>&1); then printf '%s\\n' \"$out\" | grep -a 'NVRM: Xid' | tail -n 500; exit 0; fi; " +
            "if command -v journalctl >/dev/null 2>&1 && jout=$(t journalctl -k -b -q --no-pager 2>&1); then printf '%s\\n' \"$jout\" | grep -a 'NVRM: Xid' | tail -n 500; exit 0; fi; " +
            "printf '%s\\n' \"$out\" | head -n 3; exit 3"));
        sb.Append(ProbeSections.Emit("holders", setDevices + "; for f in \"$@\"; do shift; [ -e \"$f\" ] && set -- \"$@\" \"$f\"; done; " +
            "if [ $# -eq 0 ]; then echo none; " +
            "elif command -v fuser >/dev/null 2>&1; then echo fuser; fuser -v \"$@\" 2>&1; " +
            "elif command -v lsof >/dev/null 2>&1; then echo lsof; lsof -w -F pn -- \"$@\" 2>/dev/null; " +
            "else echo proc; ls -l /proc/[0-9]*/fd 2>/dev/null; fi; exit 0"));
        sb.Append(ProbeSections.Emit("ps", "ps -eo pid=,etimes=,user:32=,lstart=,args= | cut -c1-400"));
        for (int i = 0; i < 2; i++)
        {
            var dir = i == 0 ? host.DataDir : host.DurableDir;
            if (string.IsNullOrEmpty(dir)) continue;
            sb.Append(ProbeSections.Emit(i == 0 ? "df-data" : "df-durable", DfParser.Command(dir)));
        }
        sb.Append(ProbeSections.Emit("cgroup",
            "c=${RGT_CGROUP_ROOT:-/sys/fs/cgroup}; " +
            "if [ -f \"$c/memory.max\" ]; then echo v2; for f in memory.max memory.current memory.events; do echo \"#$f\"; cat \"$c/$f\"; done; " +
            "elif [ -f \"$c/memory/memory.limit_in_bytes\" ]; then echo v1; for f in memory.limit_in_bytes memory.usage_in_bytes memory.oom_control; do echo \"#$f\"; cat \"$c/memory/$f\"; done; " +
            "else echo none; fi"));
        return sb.ToString();
    }

    /// <summary>`set -- …` with the device files to scan: the host's list, else the NVIDIA nodes.</summary>
    internal static string DeviceSet(GpuHost host) =>
        host.GpuDevicePath is { Length: > 0 } paths
            ? "set -- " + string.Join(' ', paths.Select(ShellQuote.QuotePath))
            : "set -- /dev/nvidia[0-9]* /dev/nvidiactl /dev/nvidia-uvm";

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
            if (rc == 127) { driverMissing = true; break; }
            if (rc is not 0) { driverFailed = true; driverError = FirstLine(text); break; }
            samples.Add(NvidiaSmiCsv.Parse(text));
        }
        var gpus = samples.FirstOrDefault()?.Gpus ?? Array.Empty<GpuDevice>();
        foreach (var p in samples.SelectMany(x => x.Problems).Distinct())
            findings.Add(new GpuFinding("driver", HealthStatus.Warn, $"nvidia-smi output could not be read fully: {p}. Re-run; if it persists, the driver is misbehaving."));

        var xids = XidParser.Parse(s["klog"]);
        var klogReadable = s.ExitCode("klog") == 0;
        var apps = s.ExitCode("apps") == 0 ? ProcessParsers.ParseComputeApps(s["apps"]) : Array.Empty<ComputeApp>();
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
        if (foreignPids.Count > 0 && holders.Count > 0)
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
        return new GpuHealth
        {
            Name = host.Name,
            Status = findings.Count == 0 ? HealthStatus.Pass : findings.Max(f => f.Status),
            Gpus = gpuHealth,
            Zombie = zombies.ToArray(),
            Xid = xids.ToArray(),
            Disk = disks.ToArray(),
            Memory = memory,
            Findings = findings.OrderByDescending(f => f.Status).ToArray(),
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

    static GpuDiskUsage Disk(string role, string path, ProbeSections s, string section)
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
