using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Parsing;
using RemoteGpuTrainer.Engine.Scripts;

namespace RemoteGpuTrainer.Engine.Charts;

/// <summary>Reads cells' metric histories from one box in one round trip (metrics-read.sh).</summary>
public static class MetricScripts
{
    /// <summary>The newest records read per cell; enough for a curve, bounded for a run that logs every step.</summary>
    public const int MaxRecords = 20000;

    public static string Read(IEnumerable<GpuJob> jobs) =>
        BoxScript.Load("metrics-read").Set("LINES", MaxRecords).Arguments(jobs.Select(j => j.CheckpointDir)).Command;

    /// <summary>Each job's series of <paramref name="metric"/>, or the reason there is none (no history file, no such metric).</summary>
    public static List<(GpuJob Job, MetricSeries? Series, string? Problem)> Parse(IReadOnlyList<GpuJob> jobs, string output, string metric, bool prefixHost)
    {
        var s = ProbeSections.Parse(output);
        var result = new List<(GpuJob, MetricSeries?, string?)>();
        for (var i = 0; i < jobs.Count; i++)
        {
            var job = jobs[i];
            var name = (prefixHost ? job.Name + " " : "") + job.Cell;
            var section = $"cell-{i + 1}";
            if (!s.Has(section) || s.ExitCode(section) != 0)
            {
                result.Add((job, null, s.Has(section) ? s[section].Trim() : $"the box did not answer for {job.CheckpointDir}"));
                continue;
            }
            var lines = s[section].Split('\n').ToList();
            try { result.Add((job, MetricHistory.Parse(name, lines[0].Trim(), lines.Skip(1).ToList(), metric), null)); }
            catch (RgtException ex) { result.Add((job, null, ex.Message)); }
        }
        return result;
    }
}
