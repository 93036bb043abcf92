using System.Globalization;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Parsing;
using RemoteGpuTrainer.Engine.Queues;
using RemoteGpuTrainer.Engine.Scripts;
using RemoteGpuTrainer.Engine.Ssh;

namespace RemoteGpuTrainer.Engine.Monitoring;

/// <summary>The on-box sampler's scripts (monitor.sh, monitor-sampler.sh) and what they print.</summary>
public static class MonitorScripts
{
    /// <summary>A samples file is closed at this size; this many are kept (about two days at 5 s with 8 GPUs).</summary>
    public const long MaxFileBytes = 2L << 20;
    public const int KeepFiles = 8;

    public static string Directory(GpuHost host) => QueueScripts.Combine(QueueScripts.DataDir(host), ".rgt/monitor");

    static BoxScript Step(GpuHost host, string step) => BoxScript.Load("monitor").Set("MODE_STEP", step).Set("DIR", Directory(host));

    public static string Start(GpuHost host, int intervalSeconds, string? queueId = null, long maxFileBytes = MaxFileBytes, int keepFiles = KeepFiles) =>
        Step(host, "start").Set("SAMPLER", BoxScript.Load("monitor-sampler")
            .Set("DIR", Directory(host)).Set("DATA_DIR", QueueScripts.DataDir(host)).Set("QUEUE_ID", queueId).Set("INTERVAL", intervalSeconds)
            .Set("MAX_BYTES", maxFileBytes).Set("KEEP", keepFiles).Text.TrimEnd('\n')).Command;

    public static string Stop(GpuHost host) => Step(host, "stop").Command;

    public static string Read(GpuHost host, MetricCursor cursor) => Step(host, "read").Set("FILE", cursor.File).Set("OFFSET", cursor.Offset).Command;

    /// <summary>
    /// The ticks of the last <paramref name="history"/>, for the patrol and Get-GpuHealth (joins
    /// another script in the same round trip; the box leaves out older lines).
    /// </summary>
    internal static BoxScript Tail(BoxScript script, GpuHost host, TimeSpan history) =>
        script.Set("MODE_STEP", "tail").Set("DIR", string.IsNullOrEmpty(host.DataDir) ? "" : Directory(host))
            .Set("SINCE", (long)history.TotalSeconds).Set("LINES", MaxTailLines);

    /// <summary>A bound on the lines read back, whatever the interval (a day at 5 s).</summary>
    const int MaxTailLines = 20000;

    /// <summary>The monitor section's text; a failed or missing section is an error naming the box's words.</summary>
    public static string Section(GpuHost host, CommandOutput output, string what)
    {
        var s = ProbeSections.Parse(output.StdOut);
        if (s.ExitCode("monitor") != 0)
            throw new RgtException("MonitorFailed", FailureKind.OperationFailed,
                $"{host.Name}: {what} failed on the box: {(s.Has("monitor") ? s["monitor"] : output.StdErr).Trim()}");
        return s["monitor"];
    }

    static string[][] Records(GpuHost host, CommandOutput output, string what) =>
        Section(host, output, what).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t')).ToArray();

    public static GpuMonitor StartResult(GpuHost host, CommandOutput output, int interval)
    {
        var r = Records(host, output, "starting the sampler").FirstOrDefault(f => f[0] is "STARTED" or "RUNNING")
            ?? throw new RgtException("MonitorFailed", FailureKind.OperationFailed, $"{host.Name}: the box did not say whether the sampler started.");
        var replaced = r[0] == "STARTED" && r.Length > 2 ? r[2].Split(' ') : Array.Empty<string>();
        return new GpuMonitor
        {
            Name = host.Name, Status = r[0] == "STARTED" ? "Started" : "AlreadyRunning", Pid = r.Length > 1 && int.TryParse(r[1], out var p) ? p : null,
            IntervalSeconds = r[0] == "STARTED" ? interval : null, Directory = Directory(host),
            Note = replaced.Length == 2
                ? replaced[0] == "dead"
                    ? $"{host.Name}: the sampler (PID {replaced[1]}) had died without stopping (killed, perhaps by the OOM killer); what it left was ended and a new one started."
                    : $"{host.Name}: the sampler (PID {replaced[1]}) ran but wrote no sample for three intervals; it was stopped and a new one started."
                : null,
        };
    }

    public static GpuMonitor StopResult(GpuHost host, CommandOutput output)
    {
        var r = Records(host, output, "stopping the sampler").FirstOrDefault(f => f[0] is "STOPPED" or "NOT_RUNNING" or "DEAD")
            ?? throw new RgtException("MonitorFailed", FailureKind.OperationFailed, $"{host.Name}: the box did not say whether the sampler stopped.");
        double? Num(int i) => r.Length > i && double.TryParse(r[i], NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : null;
        return new GpuMonitor
        {
            Name = host.Name, Status = r[0] switch { "STOPPED" => "Stopped", "DEAD" => "Dead", _ => "NotRunning" }, Directory = Directory(host),
            Pid = r[0] == "DEAD" && int.TryParse(r[1], out var pid) ? pid : null,
            Note = r[0] == "DEAD" ? $"{host.Name}: the sampler (PID {r[1]}) had died without stopping (killed, perhaps by the OOM killer); {(r.Length > 2 ? r[2] : "0")} process(es) it left were ended." : null,
            CpuSeconds = r[0] == "STOPPED" && Num(1) is { } t && Num(2) is { } hz && hz > 0 ? t / hz : null,
            RanSeconds = r[0] == "STOPPED" ? Num(3) : null,
        };
    }
}

/// <summary>Where the last read of a host's samples ended: a file's name and a byte offset in it.</summary>
public sealed record MetricCursor(string File, long Offset)
{
    public static readonly MetricCursor Start = new("", 0);
}
