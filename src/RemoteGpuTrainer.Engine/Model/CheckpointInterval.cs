namespace RemoteGpuTrainer.Engine.Model;

/// <summary>How often to checkpoint: the Young/Daly interval.</summary>
public sealed class CheckpointInterval
{
    public TimeSpan Interval { get; init; }
    /// <summary>Interval in seconds, for CSV and JSON.</summary>
    public double IntervalSeconds => Interval.TotalSeconds;
    /// <summary>Whole iterations in one interval, rounded down; null without -SecondsPerIteration.</summary>
    public long? Iterations { get; init; }
    /// <summary>Iterations rounded down to a tidy number (two significant digits).</summary>
    public long? SuggestedIterations { get; init; }
    public TimeSpan MeanTimeBetweenFailures { get; init; }
    public TimeSpan CheckpointWriteTime { get; init; }
    public int Workers { get; init; } = 1;
    public string Formula { get; init; } = "";
    public Listed<string> Warnings { get; init; } = Listed<string>.Empty;
}
