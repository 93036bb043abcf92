using RemoteGpuTrainer.Engine.Model;
using ScottPlot;
using SkiaSharp;

namespace RemoteGpuTrainer.Engine.Charts;

/// <summary>
/// Draws the monitor's samples (GPU utilisation, GPU memory, host memory against the cgroup limit,
/// stacked, on a clock-time axis: <see cref="TimeAxis"/>) or the cells' metric curves (one line per cell)
/// with ScottPlot, and saves PNG or SVG by the file's extension. Several hosts get a colour and a dash
/// pattern each, so lines that coincide stay visible; legends sit below their panel, in host order; a
/// panel's y axis starts at zero and ends at the capacity (GPU memory, the cgroup limit), so a flat line
/// looks flat.
/// </summary>
public static class ChartRenderer
{
    static readonly ScottPlot.Palettes.Category10 Palette = new();
    static readonly ScottPlot.Color LimitColor = ScottPlot.Color.FromHex("#d62728");
    static readonly LinePattern[] Patterns = { LinePattern.Solid, LinePattern.Dashed, LinePattern.Dotted, LinePattern.DenselyDashed };

    public static GpuChart Samples(IReadOnlyList<GpuMetricSample> samples, string path, int width, int height)
    {
        if (samples.Count == 0) throw new RgtException("NoSamples", FailureKind.InvalidArgument, "No samples to chart: pipe Get-GpuMetric into Export-GpuChart.");
        var series = new List<ChartSeries>();
        var hosts = samples.Select(s => s.Name).Distinct(StringComparer.OrdinalIgnoreCase).Order(StringComparer.OrdinalIgnoreCase).ToList();
        string Label(string host, string what) => hosts.Count > 1 ? $"{host} {what}" : what;
        var color = 0;
        ScottPlot.Color Next() => Palette.GetColor(color++);

        var util = Panel("GPU utilisation", "%");
        var vram = Panel("GPU memory used", "GiB");
        var host = Panel("Host memory (the training's cgroup)", "GiB");
        // One host: a colour and a legend entry per GPU. Several: a colour per host, one legend entry each.
        foreach (var h in hosts)
        {
            var mine = samples.Where(s => string.Equals(s.Name, h, StringComparison.OrdinalIgnoreCase)).OrderBy(s => s.Time).ToList();
            var indexes = mine.SelectMany(s => s.Gpus.Select(g => g.Index)).Distinct().Order().ToList();
            var hostColor = Palette.GetColor(hosts.IndexOf(h));
            var pattern = Patterns[hosts.IndexOf(h) % Patterns.Length];
            foreach (var index in indexes)
            {
                var c = hosts.Count > 1 ? hostColor : Next();
                string? legend = hosts.Count == 1 ? $"GPU {index}" : index != indexes[0] ? null : indexes.Count == 1 ? $"{h} GPU {index}" : $"{h} GPUs {indexes[0]}-{indexes[^1]}";
                var points = mine.Select(s => (s.Time, Gpu: s.Gpus.FirstOrDefault(g => g.Index == index))).Where(p => p.Gpu is not null).ToList();
                Line(util, series, "GPU utilisation", Label(h, $"GPU {index}"), legend, c, points.Where(p => p.Gpu!.UtilPercent is not null).Select(p => (p.Time, p.Gpu!.UtilPercent!.Value)), pattern);
                Line(vram, series, "GPU memory used", Label(h, $"GPU {index}"), legend, c, points.Where(p => p.Gpu!.MemoryUsedMiB is not null).Select(p => (p.Time, p.Gpu!.MemoryUsedMiB!.Value / 1024)), pattern);
            }
        }
        foreach (var h in hosts)
        {
            var mine = samples.Where(s => string.Equals(s.Name, h, StringComparison.OrdinalIgnoreCase) && s.MemoryUsedBytes is not null).OrderBy(s => s.Time).ToList();
            var c = Palette.GetColor(hosts.IndexOf(h));
            Line(host, series, "Host memory", Label(h, "used"), Label(h, "used"), c, mine.Select(s => (s.Time, s.MemoryUsedBytes!.Value / (double)(1L << 30))), Patterns[hosts.IndexOf(h) % Patterns.Length]);
            if (mine.LastOrDefault(s => s.MemoryLimitBytes is not null)?.MemoryLimitBytes is { } limit)
            {
                var line = host.Add.HorizontalLine(limit / (double)(1L << 30), 2, LimitColor, LinePattern.Dashed);
                line.LegendText = Label(h, $"cgroup limit {Format.Bytes(limit)} (OOM kill)");
                series.Add(new ChartSeries("Host memory", line.LegendText, Hex(LimitColor), 1));
            }
        }
        var first = samples.Min(s => s.Time).LocalDateTime;
        var last = samples.Max(s => s.Time).LocalDateTime;
        var limits = samples.Where(s => s.MemoryLimitBytes is not null).Select(s => s.MemoryLimitBytes!.Value / (double)(1L << 30)).ToList();
        if (limits.Count > 0)
        {
            // The label sits inside the plot, level, just above the lowest limit line at the left.
            var oom = host.Add.Text($"OOM kill at {Format.Bytes((long)(limits.Min() * (1L << 30)))}", first.ToOADate() + (last - first).TotalDays * 0.01, limits.Min());
            oom.LabelFontColor = LimitColor;
            oom.LabelFontSize = 12;
            oom.LabelBold = true;
            oom.LabelAlignment = Alignment.LowerLeft;
            oom.LabelRotation = 0;
        }
        util.Axes.SetLimitsY(0, 105);
        var gpuTop = samples.SelectMany(s => s.Gpus).Select(g => Math.Max(g.MemoryTotalMiB ?? 0, g.MemoryUsedMiB ?? 0)).DefaultIfEmpty(0).Max() / 1024;
        vram.Axes.SetLimitsY(0, Math.Max(1, gpuTop * 1.05));
        var hostTop = samples.Select(s => Math.Max(s.MemoryLimitBytes ?? 0, s.MemoryUsedBytes ?? 0) / (double)(1L << 30)).DefaultIfEmpty(0).Max();
        host.Axes.SetLimitsY(0, Math.Max(0.5, hostTop * 1.12));
        var plan = TimeAxis.For(first, last, width - 110);
        foreach (var p in new[] { util, vram, host })
        {
            p.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(plan.Positions, plan.Labels);
            // A little room at the right, so that a tick at the last sample keeps its whole label.
            var span = Math.Max((last - first).TotalDays, 1.0 / 86400);
            p.Axes.SetLimitsX(first.ToOADate(), first.ToOADate() + span * 1.03);
        }
        host.XLabel(plan.Title);
        return Save(new[] { util, vram, host }, path, width, height, series, plan);
    }

    public static GpuChart Cells(IReadOnlyList<MetricSeries> cells, string metric, string path, int width, int height)
    {
        if (cells.Count == 0) throw new RgtException("NoSamples", FailureKind.InvalidArgument, "No cell has a metric history to chart.");
        var xName = cells.Select(c => c.XName).GroupBy(x => x).OrderByDescending(g => g.Count()).First().Key;
        var plot = Panel($"{metric} per cell", metric, xName);
        var series = new List<ChartSeries>();
        for (var i = 0; i < cells.Count; i++)
        {
            var c = Palette.GetColor(i);
            var s = plot.Add.ScatterLine(cells[i].X, cells[i].Y, c);
            s.LegendText = cells[i].Cell;
            s.LineWidth = 2;
            s.MarkerSize = cells[i].X.Length <= 60 ? 5 : 0;
            series.Add(new ChartSeries(metric, cells[i].Cell, Hex(c), cells[i].X.Length));
        }
        return Save(new[] { plot }, path, width, height, series);
    }

    static Plot Panel(string title, string unit, string? xLabel = null)
    {
        var p = new Plot();
        p.Title(title, 16);
        p.YLabel(unit);
        if (xLabel is not null) p.XLabel(xLabel);
        // Below the data, in one row: beside it, a legend took a third of the width.
        p.ShowLegend(Edge.Bottom);
        p.Legend.Orientation = Orientation.Horizontal;
        p.Legend.FontSize = 10;
        return p;
    }

    /// <param name="legend">The legend's entry for the line; null: drawn without one.</param>
    static void Line(Plot plot, List<ChartSeries> series, string panel, string name, string? legend, ScottPlot.Color color, IEnumerable<(DateTimeOffset Time, double Value)> points, LinePattern pattern)
    {
        var list = points.ToList();
        if (list.Count == 0) return;
        var s = plot.Add.ScatterLine(list.Select(p => p.Time.LocalDateTime.ToOADate()).ToArray(), list.Select(p => p.Value).ToArray(), color);
        s.LegendText = legend ?? "";
        s.LineWidth = pattern.Equals(LinePattern.Solid) ? 3 : 2;
        s.LinePattern = pattern;
        s.MarkerSize = 0;
        series.Add(new ChartSeries(panel, name, Hex(color), list.Count));
    }

    static string Hex(ScottPlot.Color c) => $"#{c.R:x2}{c.G:x2}{c.B:x2}";

    /// <summary>The panels stacked top to bottom in one image; written to a temporary name, then renamed.</summary>
    static GpuChart Save(IReadOnlyList<Plot> panels, string path, int width, int height, List<ChartSeries> series, TimeAxis.Plan? time = null)
    {
        var svg = path.EndsWith(".svg", StringComparison.OrdinalIgnoreCase);
        if (!svg && !path.EndsWith(".png", StringComparison.OrdinalIgnoreCase))
            throw new RgtException("ChartFormatUnknown", FailureKind.InvalidArgument, $"{path}: the chart's file name must end in .png or .svg.");
        var full = System.IO.Path.GetFullPath(path);
        var tmp = full + ".rgt-tmp";
        void Draw(SKCanvas canvas)
        {
            canvas.Clear(SKColors.White);
            var h = (float)height / panels.Count;
            // Each panel draws its whole canvas (background included): clip and move it to its band.
            for (var i = 0; i < panels.Count; i++)
            {
                canvas.Save();
                canvas.ClipRect(new SKRect(0, i * h, width, (i + 1) * h));
                canvas.Translate(0, i * h);
                panels[i].Render(canvas, width, (int)h);
                canvas.Restore();
            }
        }
        try
        {
            if (svg)
            {
                using var stream = File.Create(tmp);
                using (var canvas = SKSvgCanvas.Create(new SKRect(0, 0, width, height), stream)) Draw(canvas);
            }
            else
            {
                using var surface = SKSurface.Create(new SKImageInfo(width, height));
                Draw(surface.Canvas);
                using var image = surface.Snapshot();
                using var data = image.Encode(SKEncodedImageFormat.Png, 100);
                using var stream = File.Create(tmp);
                data.SaveTo(stream);
            }
            File.Move(tmp, full, overwrite: true);
        }
        finally { if (File.Exists(tmp)) File.Delete(tmp); }
        return new GpuChart
        {
            Path = full, Format = svg ? "svg" : "png", Width = width, Height = height,
            Panels = series.Select(s => s.Panel).Distinct().ToArray(), Series = series.ToArray(),
            TimeTicks = time?.Labels ?? Array.Empty<string>(), TimeTitle = time?.Title,
        };
    }
}
