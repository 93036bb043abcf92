namespace RemoteGpuTrainer.Engine.Model;

/// <summary>One platform profile from the catalog: defaults, survival facts, verbs and danger clocks.</summary>
public sealed class GpuPlatform
{
    public string Name { get; init; } = "";
    public string DisplayName { get; init; } = "";
    public string? Kind { get; init; }
    public string? MeterStopVerb { get; init; }
    public bool? MeterStopIrreversible { get; init; }
    public string? DestructiveVerb { get; init; }
    public string? StopKeepsBilling { get; init; }
    public string? DetachPrimitive { get; init; }
    public string? DetachFallback { get; init; }
    /// <summary>True or false where the profile says so; null where it depends on the host or image (the profile's words are in Facts).</summary>
    public bool? TmuxPreinstalled { get; init; }
    public bool? SpotAvailable { get; init; }
    public int? SpotGraceSeconds { get; init; }
    /// <summary>True or false where the profile says so; null where it depends on the host.</summary>
    public bool? ChinaMirrorNeeded { get; init; }
    public string? ConnectionStringShape { get; init; }
    public Listed<string> HostPatterns { get; init; } = Listed<string>.Empty;
    public string? DataDir { get; init; }
    public string? DurableDir { get; init; }
    /// <summary>Why a default path is missing, when it is (e.g. Lambda's NFS name is yours to give).</summary>
    public string? PathNote { get; init; }
    public string? ProxyHook { get; init; }
    public string? CredFile { get; init; }
    public string? Scratch { get; init; }
    public string? Keep { get; init; }
    public string? TeardownRule { get; init; }
    /// <summary>Under Slurm: sbatch options every cell's job gets (the early-warning signal, requeue).</summary>
    public Listed<string> SbatchOptions { get; init; } = Listed<string>.Empty;
    /// <summary>A Slurm cluster: queues are batch jobs, and there is no rental to tear down.</summary>
    public bool IsSlurm => DetachPrimitive == "sbatch";
    /// <summary>The image (template on Paperspace) a new rental starts from when -Image is not given.</summary>
    public string? DefaultImage { get; init; }
    /// <summary>The login user of the provider's images (rgt.ssh_user), when it is fixed.</summary>
    public string? SshUser { get; init; }
    /// <summary>Where a provider without an offer search can create machines (Paperspace).</summary>
    public Listed<string> Regions { get; init; } = Listed<string>.Empty;
    /// <summary>List prices for a provider whose API has none (Paperspace), stamped price_table under verified.</summary>
    public Listed<GpuMachinePrice> PriceTable { get; init; } = Listed<GpuMachinePrice>.Empty;
    public Listed<GpuStorageTier> Storage { get; init; } = Listed<GpuStorageTier>.Empty;
    public Listed<GpuDangerClock> DangerClocks { get; init; } = Listed<GpuDangerClock>.Empty;
    /// <summary>What to tell a user on first contact (the profile's surface_to_user list).</summary>
    public Listed<string> Notices { get; init; } = Listed<string>.Empty;
    public Listed<GpuGotcha> Gotchas { get; init; } = Listed<GpuGotcha>.Empty;
    /// <summary>When each fact was last checked against the platform: fact name → "YYYY-MM" (the profile's verified map).</summary>
    public IReadOnlyDictionary<string, string> Verified { get => _verified; init => _verified = new(value); }
    readonly Mapped<string> _verified = new(new Dictionary<string, string>());
    /// <summary>Every fact of the profile as read from its YAML (nested maps and lists).</summary>
    public IReadOnlyDictionary<string, object?> Facts { get => _facts; init => _facts = new(value, f => $"{f.Count} facts: {string.Join(", ", f.Keys.Take(6))}{(f.Count > 6 ? ", …" : "")}"); }
    readonly Mapped<object?> _facts = new(new Dictionary<string, object?>());
    public string SourceFile { get; init; } = "";

    public override string ToString() => Name;
}

/// <summary>A platform fact due for re-checking: its verified stamp is older than asked, or it has none.</summary>
public sealed class GpuPlatformFact
{
    public string Platform { get; init; } = "";
    /// <summary>The fact's name in the profile's verified map; "*" for a profile with no stamp at all.</summary>
    public string Fact { get; init; } = "";
    /// <summary>The stamp as written ("YYYY-MM"), or null when there is none.</summary>
    public string? Verified { get; init; }
    public int? AgeDays { get; init; }
    public string Reason { get; init; } = "";

    public override string ToString() => $"{Platform}/{Fact}: {Reason}";
}

public sealed record GpuStorageTier(string Name, string? Path, string? SurvivesStop, string? SurvivesDestroy, string? Cap, string? Notes)
{
    public override string ToString() => $"{Name}{(Path is null ? "" : " " + Path)} (stop: {SurvivesStop ?? "?"}, destroy: {SurvivesDestroy ?? "?"})";
}

public sealed record GpuDangerClock(string What, string? After, string? Consequence)
{
    public override string ToString() => $"{What} after {After ?? "unstated"}: {Consequence}";
}

public sealed record GpuMachinePrice(string MachineType, string Gpu, int GpuCount, double? GpuMemoryGB, decimal HourlyPrice)
{
    public override string ToString() => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{MachineType} ({GpuCount}× {Gpu}) {HourlyPrice}/h");
}

public sealed record GpuGotcha(string Id, string Symptom, string Fix)
{
    public override string ToString() => $"{Id}: {Symptom}";
}
