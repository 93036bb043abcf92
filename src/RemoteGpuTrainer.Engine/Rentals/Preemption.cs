using System.Globalization;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Queues;
using RemoteGpuTrainer.Engine.Providers;

namespace RemoteGpuTrainer.Engine.Rentals;

/// <summary>
/// An interruptible rental the provider took back (RunPod spot pod exited, vast.ai outbid, Lambda
/// preempted): its SSH no longer answers, so the provider is asked, and the cells last seen unfinished
/// there are reported Preempted with the way to resume, rather than a bare "unreachable".
/// </summary>
public static class Preemption
{
    /// <summary>The rental when its provider says it was preempted; null when it says otherwise or cannot say (the SSH failure stands).</summary>
    public static async Task<GpuRental?> AskAsync(ICloudProvider api, GpuHost host, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(host.RentalId)) return null;
        try
        {
            var r = await api.GetAsync(host.RentalId, ct).ConfigureAwait(false);
            return r.State == nameof(RentalState.Preempted) ? r : null;
        }
        catch (RgtException) { return null; }
    }

    /// <summary>
    /// For a cloud rental whose SSH failed: the rental and its provider's API (disposed; its name and
    /// CanStop remain) when the provider says it took the box back, else null (the SSH failure stands).
    /// </summary>
    public static async Task<(GpuRental Rental, ICloudProvider Api)?> FindAsync(GpuHost host, Platforms.PlatformCatalog catalog, Action<string> log, CancellationToken ct)
    {
        if (!CloudProviders.Manages(host)) return null;
        ICloudProvider api;
        try { api = CloudProviders.Connect(host.Provider!, null, log, catalog); }
        catch (RgtException) { return null; }
        using (api) return await AskAsync(api, host, ct).ConfigureAwait(false) is { } rental ? (rental, api) : null;
    }

    public static string Resume(GpuHost host, ICloudProvider api, string queueId) => api.CanStop
        ? $"Start-GpuRental {host.Name}; then Start-GpuQueue {host.Name} -Path <the queue file> -QueueId {queueId} (it runs from the first unfinished cell, which resumes from its checkpoint)"
        : $"{api.Name} does not give a preempted instance back: rent another (New-GpuRental), Send-GpuFile the last durable checkpoint there, and Start-GpuQueue -QueueId {queueId} on it";

    /// <summary>The cells last seen unfinished on the host, each Preempted; none when Get-GpuJob never saw its queues.</summary>
    public static List<GpuJob> Jobs(GpuHost host, GpuRental rental, ICloudProvider api, IReadOnlyList<QueueCache.SeenCell> seen) =>
        seen.Where(c => !c.Final).Select(c => new GpuJob
        {
            Name = host.Name, QueueId = c.QueueId, Index = c.Index, Cell = c.Cell, State = nameof(CellState.Preempted),
            Reason = string.Create(CultureInfo.InvariantCulture,
                $"{api.Name} took back interruptible rental {rental.RentalId} ({rental.ProviderState}); the cell was {c.State} when last seen {c.SeenAt:yyyy-MM-dd HH:mm}Z. Resume: {Resume(host, api, c.QueueId)}"),
        }).ToList();

    public static GpuPatrolReport Report(GpuHost host, GpuRental rental, ICloudProvider api, IReadOnlyList<QueueCache.SeenCell> seen, DateTimeOffset now)
    {
        var open = seen.Where(c => !c.Final).ToList();
        var queue = open.FirstOrDefault()?.QueueId ?? seen.FirstOrDefault()?.QueueId ?? "<id>";
        var cells = open.Count == 0 ? "no unfinished cell was seen there" : $"{open.Count} unfinished cell(s): {string.Join(", ", open.Select(c => c.Cell))}";
        var reason = $"preempted: {api.Name} took back interruptible rental {rental.RentalId} ({rental.ProviderState}); {cells}. Resume: {Resume(host, api, queue)}";
        return new GpuPatrolReport
        {
            Name = host.Name, Verdict = "Escalate", Reason = reason, CheckedAt = now, Preempted = true,
            Line = string.Create(CultureInfo.InvariantCulture, $"{now:yyyy-MM-ddTHH:mm:ssK} {host.Name} ESCALATE preempted — {reason}"),
        };
    }
}
