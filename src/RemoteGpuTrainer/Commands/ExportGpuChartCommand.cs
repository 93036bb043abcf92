using System.Management.Automation;
using RemoteGpuTrainer.Engine;
using RemoteGpuTrainer.Engine.Charts;
using RemoteGpuTrainer.Engine.Model;

namespace RemoteGpuTrainer.Commands;

/// <summary>Draws a PNG or SVG chart of piped monitor samples, or of piped cells' metric histories (one curve per cell).</summary>
[Cmdlet(VerbsData.Export, "GpuChart", DefaultParameterSetName = Samples, SupportsShouldProcess = true)]
[OutputType(typeof(GpuChart))]
public sealed class ExportGpuChartCommand : SshCmdlet
{
    const string Samples = "Samples";
    const string Jobs = "Jobs";

    /// <summary>Samples from Get-GpuMetric.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = Samples)]
    public GpuMetricSample[] Sample { get; set; } = Array.Empty<GpuMetricSample>();

    /// <summary>Cells from Get-GpuJob: each one's metrics.jsonl or metrics.csv is read from its checkpoint directory on the box.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = Jobs)]
    public GpuJob[] Job { get; set; } = Array.Empty<GpuJob>();

    /// <summary>The field of the cells' metric records to draw (loss, val_acc, ...).</summary>
    [Parameter(Mandatory = true, ParameterSetName = Jobs)]
    [ValidateNotNullOrEmpty]
    public string Metric { get; set; } = "";

    /// <summary>The file to write: .png or .svg.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    [Parameter]
    [ValidateRange(320, 8000)]
    public int Width { get; set; } = 1200;

    /// <summary>Default: 900 for samples (three panels), 600 for cells.</summary>
    [Parameter]
    [ValidateRange(240, 8000)]
    public int Height { get; set; }

    readonly List<GpuMetricSample> _samples = new();
    readonly List<GpuJob> _jobs = new();

    protected override void ProcessRecord()
    {
        _samples.AddRange(Sample);
        _jobs.AddRange(Job);
    }

    protected override void EndProcessing()
    {
        var path = GetUnresolvedProviderPathFromPSPath(Path);
        if (!ShouldProcess(path, "Write the chart")) return;
        try
        {
            if (ParameterSetName == Samples)
            {
                WriteObject(ChartRenderer.Samples(_samples, path, Width, Height > 0 ? Height : 900));
                return;
            }
            var series = new List<MetricSeries>();
            using var connector = NewConnector();
            var inventory = Inventory.Load();
            var byHost = _jobs.GroupBy(j => j.Name, StringComparer.OrdinalIgnoreCase)
                .Select(g => (Host: FindHost(inventory, g.Key), Jobs: g.ToList())).Where(g => g.Host is not null).ToList();
            foreach (var r in FanOut(byHost, 32, async (g, ct) =>
            {
                var shell = (await connector.OpenAsync(g.Host!, ct, resolvePaths: false).ConfigureAwait(false)).Shell;
                var jobs = g.Jobs;
                var output = await shell.RunAsync(MetricScripts.Read(jobs), TimeSpan.FromMinutes(2), ct).ConfigureAwait(false);
                return MetricScripts.Parse(jobs, output.StdOut, Metric, byHost.Count > 1);
            }))
            {
                if (r.Error is not null) { WriteFailure(r.Error, r.Item.Host!.Name); continue; }
                foreach (var (job, s, problem) in r.Value!)
                {
                    if (s is null) WriteWarning($"{job.Name}/{job.QueueId}/{job.Cell}: left out: {problem}");
                    else if (s.X.Length == 0) WriteWarning($"{job.Name}/{job.QueueId}/{job.Cell}: left out: no '{Metric}' value yet.");
                    else series.Add(s);
                }
            }
            if (series.Count == 0)
            {
                WriteFailure(new RgtException("NoMetricHistory", FailureKind.NotFound,
                    $"None of the {_jobs.Count} cell(s) has a '{Metric}' history: the trainer writes one JSON object per epoch or step to metrics.jsonl (or rows to metrics.csv) in $RGT_CHECKPOINT_DIR."), Metric);
                return;
            }
            WriteObject(ChartRenderer.Cells(series, Metric, path, Width, Height > 0 ? Height : 600));
        }
        catch (RgtException ex) { WriteFailure(ex, path); }
    }
}
