namespace RemoteGpuTrainer.Engine.Model;

/// <summary>One line of a chart as the user sees it in the legend, and the colour it was drawn in (#rrggbb).</summary>
public sealed record ChartSeries(string Panel, string Name, string Color, int Points);

/// <summary>What Export-GpuChart wrote.</summary>
public sealed class GpuChart
{
    public string Path { get; init; } = "";
    public string Format { get; init; } = "";
    public int Width { get; init; }
    public int Height { get; init; }
    public string[] Panels { get; init; } = Array.Empty<string>();
    public ChartSeries[] Series { get; init; } = Array.Empty<ChartSeries>();
}
