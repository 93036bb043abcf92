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
    /// <summary>The lines were shown on the console as they arrived (one host without -Stream); the default view then does not print them again.</summary>
    public bool ShownLive { get; init; }
}
