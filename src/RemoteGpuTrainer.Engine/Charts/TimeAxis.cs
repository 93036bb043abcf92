using System.Globalization;

namespace RemoteGpuTrainer.Engine.Charts;

/// <summary>
/// The time axis of a chart as a person reads a clock: ticks at round times (every 10 s, 5 min, 1 h …),
/// labelled HH:mm:ss, HH:mm or, across midnight, MM-dd HH:mm; the date once, in the axis title. The
/// interval is the smallest round one whose labels fit side by side in the plot's width with a gap.
/// </summary>
public static class TimeAxis
{
    public sealed record Plan(double[] Positions, string[] Labels, string Title, TimeSpan Interval, double LabelWidthPx, double SpacingPx);

    /// <summary>About the width of one character of the tick labels (12 px sans-serif), and the gap kept between labels.</summary>
    public const double CharWidthPx = 7.5, GapPx = 16;

    static readonly int[] Seconds =
    {
        1, 2, 5, 10, 15, 30, 60, 2 * 60, 5 * 60, 10 * 60, 15 * 60, 30 * 60,
        3600, 2 * 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400,
    };

    public static Plan For(DateTime first, DateTime last, double plotWidthPx)
    {
        if (last <= first) last = first.AddSeconds(1);
        var range = (last - first).TotalSeconds;
        var acrossDays = first.Date != last.Date;
        foreach (var s in Seconds.Append(int.MaxValue))
        {
            var step = s == int.MaxValue ? Math.Ceiling(range) : s;
            var format = step < 60 ? "HH:mm:ss" : acrossDays ? "MM-dd HH:mm" : "HH:mm";
            var labelPx = format.Length * CharWidthPx;
            var spacing = step / range * plotWidthPx;
            if (spacing < labelPx + GapPx && s != int.MaxValue) continue;
            var ticks = new List<DateTime>();
            // Round times: whole multiples of the step from local midnight.
            var t = first.Date.AddSeconds(Math.Ceiling((first - first.Date).TotalSeconds / step) * step);
            for (; t <= last && ticks.Count < 1000; t = t.AddSeconds(step)) ticks.Add(t);
            if (ticks.Count == 0) ticks.Add(first);
            var title = acrossDays
                ? $"local time, {first.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)} to {last.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)}"
                : $"local time, {first.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)}";
            return new Plan(ticks.Select(x => x.ToOADate()).ToArray(), ticks.Select(x => x.ToString(format, CultureInfo.InvariantCulture)).ToArray(),
                title, TimeSpan.FromSeconds(step), labelPx, spacing);
        }
        throw new InvalidOperationException("unreachable: the last step always fits");
    }
}
