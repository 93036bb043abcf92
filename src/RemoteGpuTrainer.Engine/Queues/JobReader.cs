using RemoteGpuTrainer.Engine.Rentals;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Providers;
using RemoteGpuTrainer.Engine.Ssh;

namespace RemoteGpuTrainer.Engine.Queues;

/// <summary>What one read of a host's queues found: the host with its paths resolved, its cells, and how many queues the box has (null: it did not answer, the cells are its provider's Preempted ones).</summary>
public sealed record HostJobs(GpuHost Host, List<GpuJob> Jobs, int? Queues);

/// <summary>
/// Reads the cells of a host's queues (one queue, or all) in one round trip. When the host does not
/// answer and its provider says it took the (spot) rental back, the cells last seen unfinished there
/// are returned as Preempted, with the way to resume; otherwise the failure stands.
/// </summary>
public static class JobReader
{
    public static async Task<HostJobs> ReadAsync(HostConnector connector, GpuHost host, string? queueId, TimeSpan staleAfter,
        Platforms.PlatformCatalog catalog, Action<string> log, CancellationToken ct)
    {
        try
        {
            var (shell, resolved, _) = await connector.OpenAsync(host, ct).ConfigureAwait(false);
            var queues = await QueueService.ReadAsync(shell, resolved, queueId, ct).ConfigureAwait(false);
            var jobs = queues.SelectMany(q => QueueStateParser.Jobs(resolved, q, staleAfter)).ToList();
            Recovery.CheckpointMirror.Annotate(jobs, host.Name, new Recovery.RecoveryStore());
            return new HostJobs(resolved, jobs, queues.Count);
        }
        catch (RgtException ex) when (ex.Kind is FailureKind.ConnectionError or FailureKind.Timeout)
        {
            if (await Preemption.FindAsync(host, catalog, log, ct).ConfigureAwait(false) is not { } taken) throw;
            return new HostJobs(host, Preemption.Jobs(host, taken.Rental, taken.Api, new QueueCache().LastSeen(host.Name, queueId)), null);
        }
    }
}
