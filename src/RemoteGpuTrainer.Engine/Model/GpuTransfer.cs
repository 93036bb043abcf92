namespace RemoteGpuTrainer.Engine.Model;

/// <summary>One file copied or transferred, with how it was verified.</summary>
public sealed class GpuTransfer
{
    public string Name { get; init; } = "";
    public string? Cell { get; init; }
    public string RemotePath { get; init; } = "";
    public string LocalPath { get; init; } = "";
    public long? Length { get; init; }
    public string? Sha256 { get; init; }
    /// <summary>For pulls: the SHA-256 the box computed for its file (the local copy matched it).</summary>
    public string? RemoteSha256 { get; init; }
    public bool Resumed { get; init; }
    public int Attempts { get; init; } = 1;
    /// <summary>Connections that moved the file at once in the last attempt (0 when skipped or sent in a batch).</summary>
    public int Connections { get; init; }
    public TimeSpan Duration { get; init; }
    /// <summary>Duration in seconds, for CSV and JSON.</summary>
    public double DurationSeconds => Duration.TotalSeconds;
    /// <summary>Copied, Skipped, Failed (and for pulls: Downloaded, Verified).</summary>
    public string Status { get; init; } = "";
    public string? Reason { get; init; }

    /// <summary>The same transfer, attributed to a queue cell.</summary>
    public GpuTransfer WithCell(string cell) => new()
    {
        Name = Name, Cell = cell, RemotePath = RemotePath, LocalPath = LocalPath, Length = Length, Sha256 = Sha256, RemoteSha256 = RemoteSha256,
        Resumed = Resumed, Attempts = Attempts, Connections = Connections, Duration = Duration, Status = Status, Reason = Reason,
    };
}
