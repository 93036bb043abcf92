namespace RemoteGpuTrainer.Engine.Model;

/// <summary>
/// A rental's state in the module's words, whatever the provider calls it (each provider class maps its
/// own words here; the provider's word stays in <see cref="GpuRental.ProviderState"/>).
/// </summary>
public enum RentalState
{
    Provisioning, Running, Stopping, Stopped, Preempted, Terminated, Failed, Unknown,
}

/// <summary>An instance at a cloud provider, running or stopped-and-billing, matched against the inventory.</summary>
public sealed class GpuRental
{
    public string Provider { get; init; } = "";
    public string RentalId { get; init; } = "";
    /// <summary>The provider's name for it (our registrations use the inventory name).</summary>
    public string? Name { get; init; }
    /// <summary>A <see cref="RentalState"/> name; the provider's own word is in ProviderState.</summary>
    public string State { get; init; } = "";
    public string? ProviderState { get; init; }
    public string? Gpu { get; init; }
    public int? GpuCount { get; init; }
    public decimal? HourlyPrice { get; init; }
    public string Currency { get; init; } = "USD";
    public DateTimeOffset? CreatedAt { get; init; }
    public TimeSpan? Uptime => CreatedAt is { } c ? DateTimeOffset.UtcNow - c : null;
    /// <summary>Price times uptime: an estimate, the provider's invoice is the truth.</summary>
    public decimal? CostSoFar => HourlyPrice is { } p && Uptime is { } u ? Math.Round(p * (decimal)u.TotalHours, 2) : null;
    public bool Interruptible { get; init; }
    /// <summary>False for a box billing at the provider that no inventory entry knows: the forgotten one.</summary>
    public bool InInventory { get; init; }
    /// <summary>The inventory host it is registered as, when it is.</summary>
    public string? HostName { get; init; }
    public string? SshHost { get; init; }
    public int? SshPort { get; init; }
    public string? SshUser { get; init; }
    public string? StatusMessage { get; init; }

    public GpuRental WithInventory(string? host) => new()
    {
        Provider = Provider, RentalId = RentalId, Name = Name, State = State, ProviderState = ProviderState, Gpu = Gpu, GpuCount = GpuCount,
        HourlyPrice = HourlyPrice, Currency = Currency, CreatedAt = CreatedAt, Interruptible = Interruptible, InInventory = host is not null,
        HostName = host, SshHost = SshHost, SshPort = SshPort, SshUser = SshUser, StatusMessage = StatusMessage,
    };

    public override string ToString() => $"{Provider}/{RentalId} {State}";
}
