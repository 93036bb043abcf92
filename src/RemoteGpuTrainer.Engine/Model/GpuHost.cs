namespace RemoteGpuTrainer.Engine.Model;

/// <summary>An SSH endpoint plus its platform profile and paths, as stored in the inventory.</summary>
public sealed record GpuHost
{
    public string Name { get; init; } = "";
    public string HostName { get; init; } = "";
    /// <summary>Null: take it from ~/.ssh/config, else 22.</summary>
    public int? Port { get; init; }
    /// <summary>Null: take it from ~/.ssh/config, else the local user name.</summary>
    public string? User { get; init; }
    public string? IdentityFile { get; init; }
    public string Platform { get; init; } = "generic-ssh";
    public string? Region { get; init; }
    public TagSet Tags { get; init; } = TagSet.Empty;
    public string? DataDir { get; init; }
    public string? DurableDir { get; init; }
    public string? ProxyHook { get; init; }
    /// <summary>Jump hosts to reach it through ([user@]host[:port], comma separated), from ssh -J; null: none, or ~/.ssh/config's ProxyJump.</summary>
    public string? ProxyJump { get; init; }
    public string? CredFile { get; init; }
    public string? Python { get; init; }
    public string? Provider { get; init; }
    public string? RentalId { get; init; }
    public decimal? HourlyPrice { get; init; }
    public string? Currency { get; init; }
    /// <summary>Device files scanned for VRAM holders; null means the NVIDIA device nodes.</summary>
    public Listed<string>? GpuDevicePath { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public string? Notes { get; init; }
    /// <summary>For a rental New-GpuRental created: the search it came from and how it was made, for a recovery to rent one like it.</summary>
    public Rentals.RentalTemplate? RentalTemplate { get; init; }

    /// <summary>The endpoint as OpenSSH would print it, e.g. root@connect.westb.seetacloud.com:38211.</summary>
    public string Endpoint => (User is null ? "" : User + "@") + HostName + (Port is null ? "" : ":" + Port);

    /// <summary>When the box last booted, as Test-GpuHost last saw it (kept in the config folder, not the inventory); null when never seen.</summary>
    public DateTimeOffset? BootedAt { get; init; }

    /// <summary>What the box has cost since it booted at HourlyPrice (in Currency); null without a price or a known boot time.</summary>
    public decimal? SpendSoFar => HourlyPrice is null || BootedAt is null ? null
        : Math.Round(HourlyPrice.Value * (decimal)(DateTimeOffset.Now - BootedAt.Value).TotalHours, 2);

    /// <summary>An ssh command to paste into a terminal: the port, key and user@host as registered (Enter-GpuHost opens it for you).</summary>
    public string SshCommand =>
        "ssh" + (Port is null ? "" : $" -p {Port}") + (string.IsNullOrEmpty(IdentityFile) ? "" : " -i '" + IdentityFile + "'") + " " + (User is null ? "" : User + "@") + HostName;

    public override string ToString() => Name;
}
