using System.Globalization;
using RemoteGpuTrainer.Engine.Model;

namespace RemoteGpuTrainer.Engine.Monitoring;

/// <param name="OomWithin">Warn when the memory trend reaches the cgroup's limit within this time (Fail within a quarter of it).</param>
/// <param name="IdleAfter">GPUs under 5 % this long: while a cell runs, a stall; with no cell, a meter running for nothing.</param>
/// <param name="Window">How far back the memory trend is fitted.</param>
public sealed record ForecastOptions(TimeSpan? OomWithin = null, TimeSpan? IdleAfter = null, TimeSpan? Window = null)
{
    public TimeSpan Oom => OomWithin ?? TimeSpan.FromHours(2);
    public TimeSpan Idle => IdleAfter ?? TimeSpan.FromMinutes(15);
    public TimeSpan Trend => Window ?? TimeSpan.FromMinutes(30);
    /// <summary>How far back the ticks are read for these forecasts.</summary>
    public TimeSpan History => (Trend > Idle ? Trend : Idle) + TimeSpan.FromMinutes(5);
}

/// <summary>
/// What the sampler's recent ticks foretell: a cgroup OOM at the current memory slope, a GPU idle
/// while a cell runs, GPUs idle with nothing running. Every finding needs evidence: too few or stale
/// samples give none (no samples is "unknown", never "fine").
/// </summary>
public static class Forecast
{
    const double IdlePercent = 5;

    public static List<GpuFinding> Findings(IReadOnlyList<GpuMetricSample> samples, ForecastOptions options, DateTimeOffset now)
    {
        var found = new List<GpuFinding>();
        if (samples.Count == 0) return found;
        var latest = samples[^1];
        var step = samples.Count > 1 ? (latest.Time - samples[^2].Time) : TimeSpan.FromSeconds(5);
        // The sampler stopped or the clock jumped: old ticks foretell nothing about now.
        if (now - latest.Time > TimeSpan.FromMinutes(5) + 3 * step) return found;
        Memory(samples, options, latest, found);
        Idle(samples, options, latest, found);
        return found;
    }

    static void Memory(IReadOnlyList<GpuMetricSample> samples, ForecastOptions options, GpuMetricSample latest, List<GpuFinding> found)
    {
        var recent = samples.Where(s => s.Time >= latest.Time - options.Trend).ToList();
        if (recent.Count >= 2 && recent[^1].OomKills is { } after && recent[0].OomKills is { } before && after > before)
            found.Add(new GpuFinding("MemoryOom", HealthStatus.Fail, string.Create(CultureInfo.InvariantCulture,
                $"the kernel OOM-killed {after - before} process(es) in the training's cgroup in the last {Minutes(recent[^1].Time - recent[0].Time)} (limit {Format.Bytes(latest.MemoryLimitBytes)}) — a cell may have died: Get-GpuJob; lower the DataLoader's num_workers or rent more RAM")));
        // The slope of the work running now: a cell that started or ended moves the memory in a step, not a slope.
        var window = new List<GpuMetricSample>();
        for (var i = recent.Count - 1; i >= 0 && recent[i].RunningCells == latest.RunningCells; i--)
            if (recent[i].MemoryUsedBytes is not null) window.Insert(0, recent[i]);
        if (latest.MemoryLimitBytes is not { } limit || latest.MemoryUsedBytes is not { } used) return;
        // A slope needs ten ticks at least (50 s at the default 5 s).
        if (window.Count < 10 || window[^1].Time - window[0].Time < TimeSpan.FromSeconds(9)) return;
        var t0 = window[0].Time;
        double n = window.Count, sx = 0, sy = 0, sxx = 0, sxy = 0;
        foreach (var s in window)
        {
            double x = (s.Time - t0).TotalSeconds, y = s.MemoryUsedBytes!.Value;
            sx += x; sy += y; sxx += x * x; sxy += x * y;
        }
        var den = n * sxx - sx * sx;
        if (den <= 0) return;
        var slope = (n * sxy - sx * sy) / den; // bytes per second
        if (slope <= 0) return;
        var left = TimeSpan.FromSeconds(Math.Max(0, (limit - used) / slope));
        // A line fitted on a short stretch says little far beyond it (a few MiB of kernel memory while
        // a dataset streams through the page cache): no forecast further out than ten times the stretch.
        if (left > options.Oom || left > (window[^1].Time - t0) * 10) return;
        var cells = latest.Cells.Length == 0 ? "" : "; " + string.Join(", ", latest.Cells.Select(c => $"{c.Cell} RSS {Format.Bytes(c.RssBytes)}"));
        found.Add(new GpuFinding("MemoryForecast", left <= options.Oom / 4 ? HealthStatus.Fail : HealthStatus.Warn, string.Create(CultureInfo.InvariantCulture,
            $"cgroup OOM in ~{Minutes(left)} at the current slope: {Format.Bytes(used)} of the {Format.Bytes(limit)} limit, growing {Format.Bytes((long)(slope * 60))}/min over the last {Minutes(window[^1].Time - t0)}{cells} — save a checkpoint now; then lower the DataLoader's num_workers or prefetch_factor, look for tensors kept across steps, or rent a box with more RAM")));
    }

    static void Idle(IReadOnlyList<GpuMetricSample> samples, ForecastOptions options, GpuMetricSample latest, List<GpuFinding> found)
    {
        if (!latest.GpuReadingOk || latest.Gpus.Length == 0) return;
        var running = latest.Cells.Length > 0;
        // The trailing run of ticks in the same situation (cells running or not) with every reading present.
        var run = new List<GpuMetricSample>();
        for (var i = samples.Count - 1; i >= 0; i--)
        {
            var s = samples[i];
            if (!s.GpuReadingOk || s.Gpus.Length == 0 || (s.Cells.Length > 0) != running) break;
            run.Add(s);
        }
        run.Reverse();
        if (running)
        {
            foreach (var gpu in latest.Gpus)
            {
                var idleSince = IdleSince(run, s => s.Gpus.FirstOrDefault(g => g.Index == gpu.Index)?.UtilPercent);
                if (idleSince is null || latest.Time - idleSince.Value < options.Idle) continue;
                found.Add(new GpuFinding("GpuIdle", HealthStatus.Warn, string.Create(CultureInfo.InvariantCulture,
                    $"GPU {gpu.Index} under {IdlePercent} % for {Minutes(latest.Time - idleSince.Value)} while {string.Join(", ", latest.Cells.Select(c => c.Cell))} runs — a starved input pipeline (DataLoader workers, a slow disk) or a hung NCCL collective: read the cell's log (Get-GpuJob {latest.Name} | Get-GpuLog -Tail 50) and dump the trainer's stacks (py-spy dump --pid <pid>)")));
            }
            return;
        }
        var allIdle = IdleSince(run, s => s.Gpus.Max(g => g.UtilPercent ?? 100));
        if (allIdle is null || latest.Time - allIdle.Value < options.Idle) return;
        found.Add(new GpuFinding("IdleRental", HealthStatus.Warn, string.Create(CultureInfo.InvariantCulture,
            $"all {latest.Gpus.Length} GPU(s) under {IdlePercent} % and no cell running for {Minutes(latest.Time - allIdle.Value)}: the meter runs for nothing — pull and verify the results (Get-GpuJob {latest.Name} | Receive-Checkpoint | Test-Checkpoint), then Remove-GpuRental {latest.Name}, or start the next queue")));
    }

    /// <summary>When the trailing stretch of readings under the idle line began; null when the latest reading is not idle.</summary>
    static DateTimeOffset? IdleSince(List<GpuMetricSample> run, Func<GpuMetricSample, double?> util)
    {
        DateTimeOffset? since = null;
        for (var i = run.Count - 1; i >= 0; i--)
        {
            if (util(run[i]) is not { } u || u >= IdlePercent) break;
            since = run[i].Time;
        }
        return since;
    }

    static string Minutes(TimeSpan t) => Format.Duration(t);
}
