namespace RemoteGpuTrainer.Engine.Model;

/// <summary>A recurring patrol installed by Register-GpuPatrol.</summary>
public sealed class GpuPatrolSchedule
{
    public string Id { get; init; } = "";
    public Listed<string> Hosts { get; init; } = Listed<string>.Empty;
    /// <summary>The cron time fields, e.g. "3,33 * * * *".</summary>
    public string Schedule { get; init; } = "";
    public string Command { get; init; } = "";
    public string? LogPath { get; init; }
    /// <summary>The whole crontab line (or the Windows command that creates the task).</summary>
    public string Entry { get; init; } = "";
}
