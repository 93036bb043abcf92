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

    /// <summary>A queue id from a queue file's name: letters, digits, '.', '_' and '-' (others become '_'), 64 at most.</summary>
    public static string QueueIdFor(string file)
    {
        var name = Path.GetFileNameWithoutExtension(file);
        var id = new string(name.Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' ? c : '_').ToArray()).TrimStart('.', '_', '-');
        return id.Length == 0 ? "queue" : id.Length > 64 ? id[..64] : id;
    }

    /// <summary>
    /// How the queue runs on the host: Auto is Slurm on a Slurm platform; sbatch options on a host whose
    /// queue does not run under Slurm are refused (NotSlurm), never dropped.
    /// </summary>
    public static string DetachFor(Model.GpuHost host, string requested, bool slurmPlatform, bool sbatchOptionsGiven)
    {
        var detach = requested == "Auto" && slurmPlatform ? "Slurm" : requested;
        if (sbatchOptionsGiven && detach != "Slurm")
            throw new RgtException("NotSlurm", FailureKind.InvalidArgument,
                $"{host.Name}: -GpusPerCell, -TimeLimit, -Partition, -Account, -SbatchOption and -Array are sbatch options, and this host's queue runs under {detach} (platform '{host.Platform}'); use -Detach Slurm on a Slurm login node, or register it with -Platform slurm.");
        return detach;
    }
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
