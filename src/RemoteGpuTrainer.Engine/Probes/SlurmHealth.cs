using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Parsing;
using RemoteGpuTrainer.Engine.Scripts;

namespace RemoteGpuTrainer.Engine.Probes;

/// <summary>
/// Health on a Slurm login node: partitions and nodes from sinfo (slurm-health.sh), the data and
/// durable disks; or, for one compute node, the normal GPU probe run as a job step (slurm-probe.sh).
/// </summary>
public static class SlurmHealth
{
    public static string Script(GpuHost host) => ScriptFor(host).Command;

    internal static BoxScript ScriptFor(GpuHost host, params string[] more) =>
        BoxScript.Load(new[] { "slurm-health", "disks" }.Concat(more).ToArray()).Set("DATA_DIR", host.DataDir).Set("DURABLE_DIR", host.DurableDir);

    /// <summary>The GPU probe on a compute node, through srun, giving up after <paramref name="wait"/> when the cluster cannot start it.</summary>
    public static string NodeScript(GpuHost host, HealthOptions options, string? node, string? partition, TimeSpan wait) =>
        BoxScript.Load("slurm-probe")
            .Set("PROBE", HealthProbe.ScriptFor(host, options, "health-probe", "disks").Text)
            .Set("NODE", node).Set("PARTITION", partition).Set("WAIT", Math.Max(1, (long)wait.TotalSeconds))
            .Command;

    /// <summary>Node states that mean jobs cannot run there, and those that mean soon they will not.</summary>
    static readonly string[] FailStates = { "down", "drained", "fail", "failing", "not_responding", "unknown", "inval" };
    static readonly string[] WarnStates = { "draining", "drain", "maint", "reboot", "power_down", "powered_down", "completing+drain" };

    public static GpuHealth Parse(GpuHost host, string output, DateTimeOffset checkedAt)
    {
        var s = ProbeSections.Parse(output);
        var findings = new List<GpuFinding>();
        var nodes = new List<GpuSlurmNode>();
        if (s.ExitCode("nodes") != 0 || s.ExitCode("partitions") != 0)
        {
            var which = s.ExitCode("nodes") != 0 ? "nodes" : "partitions";
            findings.Add(new GpuFinding("scheduler", HealthStatus.Fail,
                $"sinfo did not answer ({(s.ExitCode(which) is { } rc ? $"exit {rc}" : "no answer")}: {FirstLine(s[which])}) — the cluster's state is unknown; is slurmctld up (scontrol ping)?"));
        }
        else
        {
            foreach (var line in s["nodes"].Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                var f = line.Split('|');
                if (f.Length < 5) continue;
                nodes.Add(new GpuSlurmNode(f[0], f[1], f[2], f[3] is "none" or "" ? null : f[3], f[4] is "(null)" or "" ? null : f[4]));
            }
            if (nodes.Count == 0) findings.Add(new GpuFinding("scheduler", HealthStatus.Fail, "sinfo lists no node: nothing can run here."));
            foreach (var line in s["partitions"].Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                var f = line.Split('|');
                if (f.Length >= 2 && f[1] != "up")
                    findings.Add(new GpuFinding("partition", HealthStatus.Fail, $"partition {f[0]} is {f[1]}: jobs submitted to it stay pending (PartitionDown/PartitionInactive)."));
            }
            foreach (var g in nodes.GroupBy(n => n.Node))
            {
                var n = g.First();
                var words = n.State.TrimEnd('*', '~', '#', '!', '%', '$', '@', '^', '-').ToLowerInvariant();
                var why = n.Reason is null ? "" : $" (reason: {n.Reason})";
                var partitions = string.Join(",", g.Select(x => x.Partition));
                if (n.State.EndsWith('*') || FailStates.Any(st => words == st || words.StartsWith(st + "+", StringComparison.Ordinal)))
                    findings.Add(new GpuFinding("node", HealthStatus.Fail, $"node {n.Node} ({partitions}) is {n.State}{why}: no job runs there until an admin resumes it."));
                else if (WarnStates.Any(st => words == st || words.Contains(st, StringComparison.Ordinal)))
                    findings.Add(new GpuFinding("node", HealthStatus.Warn, $"node {n.Node} ({partitions}) is {n.State}{why}: running jobs finish, no new ones start there."));
            }
        }
        var disks = new List<GpuDiskUsage>();
        if (!string.IsNullOrEmpty(host.DataDir)) disks.Add(HealthProbe.Disk("data", host.DataDir!, s, "df-data"));
        if (!string.IsNullOrEmpty(host.DurableDir)) disks.Add(HealthProbe.Disk("durable", host.DurableDir!, s, "df-durable"));
        HealthRules.JudgeDisks(disks, findings);
        return new GpuHealth
        {
            Name = host.Name,
            Level = findings.Count == 0 ? HealthStatus.Pass : findings.Max(f => f.Level),
            Nodes = nodes.ToArray(),
            Disk = disks.ToArray(),
            Findings = findings.OrderByDescending(f => f.Level).ToArray(),
            CheckedAt = checkedAt,
        };
    }

    /// <summary>
    /// The compute node's probe as GpuHealth; when srun could not start the step (the cluster is full
    /// for the wait, or the node or partition is refused) the result is a Warn or Fail saying so, never a Pass.
    /// </summary>
    public static GpuHealth ParseNode(GpuHost host, string output, HealthOptions options, TimeSpan wait, DateTimeOffset checkedAt)
    {
        var s = ProbeSections.Parse(output);
        if (s.Has("probe-node") && s.Has("gpu-1"))
        {
            var h = HealthProbe.Parse(host, output, options, checkedAt);
            return h.WithNode(s["probe-node"].Trim());
        }
        var srun = s["srun"].Trim();
        // srun --immediate gives up with "queued and waiting for resources" then "Requested nodes are busy"
        // (or "Immediate execution impossible"): the request was fine, the GPUs were taken.
        var full = srun.Contains("queued and waiting for resources", StringComparison.OrdinalIgnoreCase)
            || srun.Contains("Immediate execution impossible", StringComparison.OrdinalIgnoreCase)
            || srun.Contains("Requested nodes are busy", StringComparison.OrdinalIgnoreCase);
        var finding = full
            ? new GpuFinding("probe", HealthStatus.Warn, $"the probe job was not started within {wait.TotalSeconds:0} s: the cluster has no free GPU there now (pending). Retry later, or name another -Node/-Partition. srun: {LastLine(srun)}")
            : new GpuFinding("probe", HealthStatus.Fail, $"srun could not run the probe (exit {s.ExitCode("srun")?.ToString() ?? "none"}): {LastLine(srun)}");
        return new GpuHealth { Name = host.Name, Level = finding.Level, Findings = new[] { finding }, CheckedAt = checkedAt, ProbePending = full };
    }

    static string LastLine(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault()?.Trim() ?? "(no output)";

    static string FirstLine(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault()?.Trim() ?? "(no output)";
}
