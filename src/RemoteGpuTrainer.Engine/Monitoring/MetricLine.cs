using System.Globalization;
using RemoteGpuTrainer.Engine.Model;

namespace RemoteGpuTrainer.Engine.Monitoring;

/// <summary>Reads the sampler's lines (the format is written down at the top of monitor-sampler.sh).</summary>
public static class MetricLine
{
    /// <summary>One line as a sample; null for anything that is not a whole v1 line (a line cut short, a newer format).</summary>
    public static GpuMetricSample? Parse(string host, string line)
    {
        var f = line.TrimEnd('\r').Split(',');
        if (f.Length != 12 || f[0] != "v1" || !long.TryParse(f[1], NumberStyles.None, CultureInfo.InvariantCulture, out var unix)) return null;
        var gpus = new List<GpuMetricReading>();
        var gpuOk = f[11] is not ("error" or "");
        if (gpuOk && f[11] != "none")
            foreach (var g in f[11].Split(';', StringSplitOptions.RemoveEmptyEntries))
            {
                var v = g.Split(':');
                if (v.Length != 7 || !int.TryParse(v[0], NumberStyles.None, CultureInfo.InvariantCulture, out var index)) { gpuOk = false; continue; }
                gpus.Add(new GpuMetricReading(index, Num(v[1]), Num(v[2]), Num(v[3]), Num(v[4]), Num(v[5]), Num(v[6])));
            }
        var cells = new List<GpuCellMemory>();
        foreach (var c in f[10].Split(';', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = c.LastIndexOf('=');
            if (eq > 0 && long.TryParse(c[(eq + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var rss)) cells.Add(new GpuCellMemory(c[..eq], rss));
        }
        return new GpuMetricSample
        {
            Name = host, Time = DateTimeOffset.FromUnixTimeSeconds(unix).ToLocalTime(), Cgroup = f[2],
            MemoryUsedBytes = Long(f[3]), MemoryLimitBytes = Long(f[4]), OomKills = Long(f[5]), CpuPercent = Num(f[6]), Load1 = Num(f[7]),
            DataFreeBytes = Long(f[8]), DataFreeInodes = Long(f[9]), Cells = cells.ToArray(), Gpus = gpus.ToArray(), GpuReadingOk = gpuOk && f[11] != "none",
        };
    }

    public static List<GpuMetricSample> ParseAll(string host, IEnumerable<string> lines) =>
        lines.Select(l => Parse(host, l)).Where(s => s is not null).Select(s => s!).OrderBy(s => s.Time).ToList();

    static double? Num(string s) => double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : null;

    static long? Long(string s) => long.TryParse(s.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : null;
}
