namespace RemoteGpuTrainer.Engine.Model;

/// <summary>One line of a chart as the user sees it in the legend, and the colour it was drawn in (#rrggbb).</summary>
public sealed record ChartSeries(string Panel, string Name, string Color, int Points)
{
    public override string ToString() => $"{Panel}: {Name} ({Points} points)";
}

/// <summary>What Export-GpuChart wrote.</summary>
public sealed class GpuChart
{
    public string Path { get; init; } = "";
    public string Format { get; init; } = "";
    public int Width { get; init; }
    public int Height { get; init; }
    public Listed<string> Panels { get; init; } = Listed<string>.Empty;
    public Listed<ChartSeries> Series { get; init; } = Listed<ChartSeries>.Empty;
    /// <summary>The time axis's tick labels (clock time), for a chart of samples; empty for one of cell metrics.</summary>
    public Listed<string> TimeTicks { get; init; } = Listed<string>.Empty;
    /// <summary>The time axis's title: "local time" and the date, once.</summary>
    public string? TimeTitle { get; init; }
}
