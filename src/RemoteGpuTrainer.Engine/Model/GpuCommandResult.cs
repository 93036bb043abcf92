namespace RemoteGpuTrainer.Engine.Model;

/// <summary>One host's result of Invoke-GpuCommand.</summary>
public sealed class GpuCommandResult
{
    public string Name { get; init; } = "";
    /// <summary>Null when the command was ended by a signal.</summary>
    public int? ExitCode { get; init; }
    public string StdOut { get; init; } = "";
    public string StdErr { get; init; } = "";
    public TimeSpan Duration { get; init; }
    /// <summary>Duration in seconds, for CSV and JSON.</summary>
    public double DurationSeconds => Duration.TotalSeconds;
    public bool Succeeded => ExitCode == 0;
}
