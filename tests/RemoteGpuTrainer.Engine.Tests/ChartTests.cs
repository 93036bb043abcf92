using RemoteGpuTrainer.Engine.Charts;
using RemoteGpuTrainer.Engine.Model;
using SkiaSharp;
using Xunit;

namespace RemoteGpuTrainer.Engine.Tests;

public class ChartTests
{
    [Theory]
    [InlineData(5, 1100, "HH:mm:ss")]
    [InlineData(600, 1100, "HH:mm")]
    [InlineData(3 * 3600, 1100, "HH:mm")]
    [InlineData(600, 300, "HH:mm")]
    [InlineData(40, 200, "HH:mm:ss")]
    [InlineData(7 * 86400, 1100, "MM-dd HH:mm")]
    public void Time_ticks_read_as_clock_time_at_round_times_and_never_overlap(int seconds, int widthPx, string format)
    {
        var first = new DateTime(2026, 12, 1, 17, 59, 51);
        var plan = TimeAxis.For(first, first.AddSeconds(seconds), widthPx);
        Assert.All(plan.Labels, l => Assert.Equal(format.Length, l.Length));
        Assert.Equal(plan.Labels.Length, plan.Labels.Distinct().Count());
        // Side by side with a gap: each label's width fits in the distance between two ticks.
        Assert.True(plan.SpacingPx >= plan.LabelWidthPx + TimeAxis.GapPx || plan.Labels.Length == 1, $"{plan.SpacingPx} px between ticks for labels of {plan.LabelWidthPx} px");
        Assert.All(plan.Positions, p => Assert.InRange(DateTime.FromOADate(p), first.AddSeconds(-0.001), first.AddSeconds(seconds + 0.001)));
        // Round times: every tick is a whole multiple of the interval from midnight.
        Assert.All(plan.Positions, p => Assert.Equal(0, Math.Round((DateTime.FromOADate(p) - DateTime.FromOADate(p).Date).TotalSeconds) % plan.Interval.TotalSeconds));
        Assert.StartsWith("local time, 2026-12-01", plan.Title);
        Assert.DoesNotContain("12/01/2026", string.Join(" ", plan.Labels));
    }

    static List<GpuMetricSample> TwoHostsOverTenMinutes()
    {
        var start = new DateTimeOffset(2026, 12, 1, 10, 0, 0, TimeSpan.Zero);
        var samples = new List<GpuMetricSample>();
        foreach (var host in new[] { "box-b", "box-a" })
            for (var i = 0; i <= 120; i++)
                samples.Add(new GpuMetricSample
                {
                    Name = host, Time = start.AddSeconds(5 * i), Cgroup = "v2",
                    // The same readings on both hosts: their lines coincide.
                    MemoryUsedBytes = (4L << 30) + i * (150L << 20), MemoryLimitBytes = 24L << 30,
                    Gpus = new[] { new GpuMetricReading(0, 40 + 50 * Math.Abs(Math.Sin(i / 9.0)), 19_814, 81_559, 300, 60, 1980) },
                });
        return samples;
    }

    [Fact]
    public void Two_hosts_with_the_same_readings_both_show_and_the_oom_line_is_labelled_inside_the_plot()
    {
        var path = Path.Combine(TestFiles.TempDir(), "two.png");
        var chart = ChartRenderer.Samples(TwoHostsOverTenMinutes(), path, 1200, 900);
        Assert.Equal(new[] { "box-a GPU 0", "box-b GPU 0" }, chart.Series.Where(s => s.Panel == "GPU utilisation").Select(s => s.Name));
        Assert.Equal("local time, " + new DateTimeOffset(2026, 12, 1, 10, 0, 0, TimeSpan.Zero).LocalDateTime.ToString("yyyy-MM-dd"), chart.TimeTitle);
        Assert.All(chart.TimeTicks, t => Assert.Matches(@"^\d\d:\d\d$", t));
        using var bitmap = SKBitmap.Decode(path);
        var a = SKColor.Parse(chart.Series.First(s => s.Name == "box-a GPU 0").Color);
        var b = SKColor.Parse(chart.Series.First(s => s.Name == "box-b GPU 0").Color);
        Assert.NotEqual(a, b);
        // box-b's dashed line lies over box-a's wider solid one: both colours are on the picture.
        Assert.True(Count(bitmap, a) > 200, $"box-a's colour: {Count(bitmap, a)} pixels");
        Assert.True(Count(bitmap, b) > 200, $"box-b's colour: {Count(bitmap, b)} pixels");
        // The OOM label is red text inside the host-memory plot, left of the middle (not a vertical tag at the right edge).
        var red = SKColor.Parse("#d62728");
        var band = (Top: 600, Bottom: 900);
        var redLeft = 0;
        for (var y = band.Top; y < band.Bottom; y++)
            for (var x = 60; x < 600; x++)
                if (bitmap.GetPixel(x, y) == red) redLeft++;
        Assert.True(redLeft > 300, $"red pixels left of the middle in the host panel: {redLeft}");
    }

    [Fact]
    public void A_flat_gpu_memory_line_is_drawn_against_the_gpu_capacity_not_zoomed_to_fill_the_panel()
    {
        var path = Path.Combine(TestFiles.TempDir(), "flat.png");
        var chart = ChartRenderer.Samples(TwoHostsOverTenMinutes().Where(s => s.Name == "box-a").ToList(), path, 1200, 900);
        using var bitmap = SKBitmap.Decode(path);
        var c = SKColor.Parse(chart.Series.First(s => s.Panel == "GPU memory used").Color);
        var rows = Enumerable.Range(300, 300).Where(y => Enumerable.Range(0, 1200).Any(x => bitmap.GetPixel(x, y) == c)).ToList();
        Assert.NotEmpty(rows);
        // 19.35 of 79.6 GiB sits in the lower part of the middle panel, not at its top.
        Assert.True(rows.Average() > 300 + 300 * 0.45, $"the line's rows: {rows.Min()}-{rows.Max()}");
    }

    static int Count(SKBitmap bitmap, SKColor color)
    {
        var n = 0;
        for (var y = 0; y < bitmap.Height; y++)
            for (var x = 0; x < bitmap.Width; x++)
                if (bitmap.GetPixel(x, y) == color) n++;
        return n;
    }
}
