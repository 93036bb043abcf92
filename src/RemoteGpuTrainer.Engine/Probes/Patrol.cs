using System.Globalization;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Parsing;
using RemoteGpuTrainer.Engine.Queues;

namespace RemoteGpuTrainer.Engine.Probes;

/// <summary>
/// The patrol: one read-only round trip (queue markers, per-cell log tails and crash signatures,
/// process liveness, df bytes and inodes, the GPU health probe) and one verdict per host (Parse
/// below: Done, Continue, Warn or Escalate). It never restarts, kills or deletes anything.
/// </summary>
public static class Patrol
{
    /// <summary>On a Slurm login node the cluster's state (sinfo) stands in for the GPU probe, which would judge the login node.</summary>
    public static string Script(GpuHost host, string? queueId, Monitoring.ForecastOptions? forecast = null, bool slurm = false) =>
        QueueScripts.StateScript(slurm
            ? SlurmHealth.ScriptFor(host, "queue-state")
            : Monitoring.MonitorScripts.Tail(HealthProbe.ScriptFor(host, new HealthOptions(), "health-probe", "disks", "queue-state", "monitor"), host,
                (forecast ?? new Monitoring.ForecastOptions()).History), host, queueId, tailLines: 5).Command;

    /// <summary>How long an ordinary pending wait (Priority, Resources) may last before the patrol says Warn.</summary>
    public static readonly TimeSpan DefaultPendingWarnAfter = TimeSpan.FromHours(1);

    /// <summary>The checks whose findings come from the on-box sampler's trend, not from one reading.</summary>
    static readonly HashSet<string> ForecastChecks = new(StringComparer.Ordinal) { "MemoryOom", "MemoryForecast", "GpuIdle", "IdleRental" };

    /// <summary>The cells the patrol's round trip read (for the checkpoint mirror of queues started with -Recover).</summary>
    public static List<GpuJob> Jobs(GpuHost host, string output) =>
        QueueStateParser.Parse(output).SelectMany(q => QueueStateParser.Jobs(host, q, TimeSpan.FromHours(2))).ToList();

    public static GpuPatrolReport Parse(GpuHost host, string output, DateTimeOffset now, Monitoring.ForecastOptions? forecast = null, bool slurm = false, TimeSpan? pendingWarnAfter = null)
    {
        var health = slurm ? SlurmHealth.Parse(host, output, now) : HealthProbe.Parse(host, output, new HealthOptions(Forecast: forecast), now);
        var forecasts = health.Findings.Where(f => ForecastChecks.Contains(f.Check)).ToArray();
        var queues = QueueStateParser.Parse(output);
        var jobs = queues.SelectMany(q => QueueStateParser.Jobs(host, q, TimeSpan.FromHours(2)).Select(j => (Queue: q, Job: j))).ToList();
        var data = health.Disk.FirstOrDefault(d => d.Role == "data");
        int total = jobs.Count, done = jobs.Count(j => j.Job.State == nameof(CellState.Succeeded));
        bool alive = queues.Any(q => q.Active);
        var pending = jobs.Where(j => j.Job.State is nameof(CellState.Pending) or nameof(CellState.Requeued) && j.Job.SchedulerJobId is not null).Select(j => j.Job).ToList();
        var stuck = pending.FirstOrDefault(j => PendingReasons.IsHopeless(j.Reason));
        var waitLimit = pendingWarnAfter ?? DefaultPendingWarnAfter;
        var waiting = pending.Where(j => j.PendingSince is { } since && now - since > waitLimit).OrderBy(j => j.PendingSince).FirstOrDefault();
        var unknown = jobs.FirstOrDefault(j => j.Job.State == nameof(CellState.Unknown)).Job;
        var running = jobs.FirstOrDefault(j => j.Job.State == nameof(CellState.Running)).Job;
        var crashed = jobs.FirstOrDefault(j => j.Job.Crash is not null && j.Job.State is nameof(CellState.Running) or nameof(CellState.Failed) or nameof(CellState.Stale) or nameof(CellState.SyncFailed) or nameof(CellState.NoArtifact)).Job;
        string verdict, reason;
        var worst = Math.Max(data?.UsedPercent ?? 0, data?.InodesUsedPercent ?? 0);
        if (crashed is not null)
        {
            verdict = "Escalate";
            reason = $"cell {crashed.Cell} ({crashed.State}{(crashed.ExitCode is { } rc ? $", exit {rc}" : "")}) crashed: \"{crashed.Crash}\" — triage: Get-GpuJob {host.Name} -Cell '{crashed.Cell}' | Format-List *; tail -n 50 '{crashed.LogPath}'";
        }
        else if (worst >= 95)
        {
            verdict = "Escalate";
            reason = $"data disk {data!.Path} at {data.UsedPercent}% bytes, {data.InodesUsedPercent}% inodes — prune scratch or expand before the next save";
        }
        else if (unknown is not null)
        {
            verdict = "Escalate";
            reason = $"cell {unknown.Cell}: {unknown.Reason} — the scheduler's state is unknown; check slurmctld (scontrol ping)";
        }
        else if (stuck is not null)
        {
            verdict = "Escalate";
            reason = $"cell {stuck.Cell} (job {stuck.SchedulerJobId}) is pending on {stuck.Reason}: it will not start until someone acts — scontrol show job {stuck.SchedulerJobId}";
        }
        else if (!alive && total > 0 && done < total)
        {
            verdict = "Escalate";
            var q = jobs.First(j => j.Job.State != nameof(CellState.Succeeded)).Queue;
            reason = q.Slurm is not null
                ? $"no job of queue '{q.QueueId}' left in Slurm at {done}/{total} — resubmit the rest with Start-GpuQueue (same queue)"
                : $"process gone at {done}/{total} — resume with Start-GpuQueue (same queue '{q.QueueId}')";
        }
        else if (total > 0 && done == total && !alive)
        {
            verdict = "Done";
            reason = "all cells done — pull and verify (Receive-Checkpoint | Test-Checkpoint), then tear down";
        }
        else if (waiting is not null)
        {
            verdict = "Warn";
            reason = $"cell {waiting.Cell} (job {waiting.SchedulerJobId}) pending {Format.Duration(now - waiting.PendingSince!.Value)} on {waiting.Reason ?? "no reason given"}" +
                (PendingReasons.IsOrdinary(waiting.Reason) ? " — the cluster is busy" : " — a limit of your account or QOS holds it; fewer jobs at once, or ask for a higher limit");
        }
        else
        {
            verdict = "Healthy";
            reason = total == 0 ? "no queue on this host"
                : running is not null ? $"running {running.Cell}"
                : pending.Count > 0 ? $"{pending.Count} pending ({string.Join(", ", pending.Select(j => j.Reason ?? "queued").Distinct())})"
                : "running -";
        }
        // A forecast is worth a page before it comes true (an idle rental whose cells are all done is already "Done").
        var foretold = forecasts.Where(f => !(verdict == "Done" && f.Check == "IdleRental")).ToList();
        if (foretold.Count > 0)
        {
            var said = string.Join("; ", foretold.Select(f => $"{f.Check}: {f.Message}"));
            reason = verdict is "Healthy" or "Done" or "Warn" ? said : reason + "; also " + said;
            verdict = "Escalate";
        }
        if (verdict is "Healthy" or "Warn" && health.Findings.FirstOrDefault(f => f.Level == HealthStatus.Fail && !ForecastChecks.Contains(f.Check)) is { } fail)
        {
            verdict = "Escalate";
            reason = (slurm ? "cluster health FAIL: " : "GPU health FAIL: ") + fail.Message;
        }
        var epoch = running?.Epoch;
        var line = string.Create(CultureInfo.InvariantCulture,
            $"{now:yyyy-MM-ddTHH:mm:ssK} {host.Name} {verdict.ToUpperInvariant()} cells {done}/{total} alive={(alive ? "yes" : "no")} epoch={(epoch is null ? "-" : $"{epoch}/{running!.Epochs}")} disk={data?.UsedPercent?.ToString(CultureInfo.InvariantCulture) ?? "-"}% inodes={data?.InodesUsedPercent?.ToString(CultureInfo.InvariantCulture) ?? "-"}% gpu={health.Status.ToString().ToUpperInvariant()} — {reason}");
        return new GpuPatrolReport
        {
            Name = host.Name, Verdict = verdict, Reason = reason, Alive = alive, Done = done, Total = total, Epoch = epoch,
            DiskPercent = data?.UsedPercent, InodePercent = data?.InodesUsedPercent, GpuStatus = health.Status.ToString(), Line = line, CheckedAt = now,
            Findings = forecasts,
        };
    }

    /// <summary>The report when SSH itself failed: only the console shows balance, power or preemption.</summary>
    public static GpuPatrolReport Unreachable(string name, string error, DateTimeOffset now) => new()
    {
        Name = name, Verdict = "Escalate", Reason = $"SSH failed ({error}) — only the console shows balance, power or preemption: check it",
        Line = string.Create(CultureInfo.InvariantCulture, $"{now:yyyy-MM-ddTHH:mm:ssK} {name} ESCALATE unreachable — {error}"), CheckedAt = now,
        Unreachable = true,
    };
}
