using System.Globalization;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Providers;

namespace RemoteGpuTrainer.Engine.Rentals;

/// <summary>What bills at the providers against what the inventory knows: forgotten boxes, and boxes left running after their work.</summary>
public static class RentalCensus
{
    /// <summary>Every provider with a key here (environment or CLI key file) or with a host in the inventory.</summary>
    public static List<string> ProvidersToAsk(IReadOnlyList<GpuHost> inventory, string home) =>
        CloudProviders.WithOffers.Where(p => inventory.Any(h => h.Provider == p) || ApiKeys.Available(p, home)).ToList();

    /// <summary>The rentals that are not terminated, each with the inventory host it is registered as (or none).</summary>
    public static IEnumerable<GpuRental> Match(IEnumerable<GpuRental> listed, IReadOnlyList<GpuHost> inventory) =>
        listed.Where(r => r.State != nameof(RentalState.Terminated))
            .Select(r => r.WithInventory(inventory.FirstOrDefault(h => h.Provider == r.Provider && h.RentalId == r.RentalId)?.Name));

    /// <summary>
    /// A running rental whose address at the provider is not the inventory's (started in the console: a
    /// new port or dynamic IP), with what to do; null when they agree or the provider gives no address.
    /// </summary>
    public static string? Drift(GpuRental r, IReadOnlyList<GpuHost> inventory)
    {
        if (r.State != nameof(RentalState.Running) || r.SshHost is null || inventory.FirstOrDefault(h => h.Name == r.HostName) is not { } h) return null;
        var (port, known) = (r.SshPort ?? 22, h.Port ?? 22);
        if (string.Equals(r.SshHost, h.HostName, StringComparison.OrdinalIgnoreCase) && port == known) return null;
        return $"{h.Name}: {r.Provider} now gives rental {r.RentalId} the address {r.SshHost}:{port}, the inventory has {h.HostName}:{known} (started elsewhere?). Start-GpuRental {h.Name} follows it and checks the pinned host key.";
    }

    public static string Describe(GpuRental r) =>
        $"{r.Provider} rental {r.RentalId} ({r.Name ?? "no name"}, {r.State}, {r.HourlyPrice?.ToString(CultureInfo.InvariantCulture) ?? "?"} {r.Currency}/h" +
        (r.CostSoFar is { } c ? $", about {c.ToString(CultureInfo.InvariantCulture)} {r.Currency} so far" : "") + ")";

    /// <summary>The patrol's report on a rental no inventory here knows.</summary>
    public static GpuPatrolReport Forgotten(GpuRental r, DateTimeOffset now)
    {
        var reason = $"forgotten rental: {Describe(r)} is in no inventory here — stop it in the console ({CloudProviders.Console(r.Provider)}) or register it";
        return new GpuPatrolReport
        {
            Name = $"{r.Provider}/{r.RentalId}", Verdict = "Escalate", Reason = reason, CheckedAt = now,
            Line = string.Create(CultureInfo.InvariantCulture, $"{now:yyyy-MM-ddTHH:mm:ssK} {r.Provider}/{r.RentalId} ESCALATE — {reason}"),
        };
    }

    /// <summary>A host whose cells are all done while its rental still runs: the meter runs for nothing.</summary>
    public static GpuPatrolReport IdleBilling(GpuPatrolReport done, GpuRental r)
    {
        var reason = $"all cells done and {Describe(r)} is still running — pull and verify, then Remove-GpuRental {done.Name}";
        return new GpuPatrolReport
        {
            Name = done.Name, Verdict = "Escalate", Reason = reason, Alive = done.Alive, Done = done.Done, Total = done.Total, Epoch = done.Epoch,
            DiskPercent = done.DiskPercent, InodePercent = done.InodePercent, GpuStatus = done.GpuStatus, CheckedAt = done.CheckedAt, Findings = done.Findings,
            Line = done.Line.Replace(" DONE ", " ESCALATE ", StringComparison.Ordinal) + "; billing: " + reason,
        };
    }

    /// <summary>
    /// The patrol with -IncludeRentals: a forgotten rental (billing, in no inventory) becomes a report of
    /// its own, and a Done host whose rental still runs becomes Escalate (idle but billing).
    /// </summary>
    public static void Merge(List<GpuPatrolReport> reports, IEnumerable<GpuRental> rentals, DateTimeOffset now)
    {
        foreach (var rental in rentals)
        {
            if (!rental.InInventory) { reports.Add(Forgotten(rental, now)); continue; }
            var i = reports.FindIndex(x => string.Equals(x.Name, rental.HostName, StringComparison.OrdinalIgnoreCase));
            if (i >= 0 && reports[i].Verdict == "Done" && rental.State == nameof(RentalState.Running)) reports[i] = IdleBilling(reports[i], rental);
        }
    }
}
