namespace RemoteGpuTrainer.Engine.Queues;

/// <summary>
/// What Start-GpuQueue launches on one host. <see cref="Slurm"/>: the sbatch options when the queue's
/// cells become batch jobs (Detach "Slurm"); <see cref="Submit"/>: the cells to submit then.
/// </summary>
public sealed record LaunchPlan(string QueueId, IReadOnlyList<QueueCell> AllCells, IReadOnlyList<QueueCell> Owned, int StartAt, string Detach, string? WorkingDirectory)
{
    public SlurmOptions? Slurm { get; init; }
    public IReadOnlyList<QueueCell>? Submit { get; init; }
    public bool IsSlurm => Detach == "Slurm";
}

/// <summary>What Start-GpuQueue asks of sbatch besides the cell itself.</summary>
public sealed record SlurmOptions(int? GpusPerCell, TimeSpan? TimeLimit, string? Partition, string? Account, IReadOnlyList<string> Extra, bool Array)
{
    /// <summary>The sbatch options, one argument each: ours from the parameters and the platform, then the user's own.</summary>
    public IReadOnlyList<string> Arguments(IEnumerable<string> platformOptions)
    {
        var args = new List<string>();
        if (GpusPerCell is { } g) args.Add($"--gres=gpu:{g}");
        if (TimeLimit is { } t) args.Add($"--time={(int)t.TotalDays}-{t.Hours:00}:{t.Minutes:00}:{t.Seconds:00}");
        if (!string.IsNullOrEmpty(Partition)) args.Add("--partition=" + Partition);
        if (!string.IsNullOrEmpty(Account)) args.Add("--account=" + Account);
        args.AddRange(platformOptions);
        foreach (var e in Extra)
        {
            if (e.Contains('\n') || e.Contains('\r') || e.Length == 0)
                throw new RgtException("SbatchOptionInvalid", FailureKind.InvalidArgument, $"-SbatchOption '{Hosts.ConnectionString.Printable(e)}' is empty or holds a line break; give each option as one argument, e.g. '--mem=32G'.");
            args.Add(e);
        }
        return args;
    }
}
