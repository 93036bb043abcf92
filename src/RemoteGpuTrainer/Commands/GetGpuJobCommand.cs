using System.Management.Automation;
using RemoteGpuTrainer.Engine;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Queues;
using RemoteGpuTrainer.Engine.Ssh;

namespace RemoteGpuTrainer.Commands;

/// <summary>One GpuJob per cell of the queues on each host, from markers and the cell's own log, in one round trip per host.</summary>
[Cmdlet(VerbsCommon.Get, "GpuJob", DefaultParameterSetName = AllHosts)]
[OutputType(typeof(GpuJob))]
public sealed class GetGpuJobCommand : HostCmdlet
{
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(QueueCompleter))]
    public string? QueueId { get; set; }

    [Parameter]
    [ValidateCellState]
    [ArgumentCompleter(typeof(CellStateCompleter))]
    public string[]? State { get; set; }

    [Parameter]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(QueueCompleter))]
    public string[]? Cell { get; set; }

    /// <summary>A Running cell whose log has not changed for this long is Stale.</summary>
    [Parameter]
    [Duration]
    public TimeSpan StaleAfter { get; set; } = TimeSpan.FromMinutes(30);

    protected override void EndProcessing()
    {
        var patterns = Cell?.Select(c => new WildcardPattern(c, WildcardOptions.IgnoreCase)).ToList();
        using var connector = NewConnector();
        var catalog = Catalog;
        int read = 0, found = 0;
        List<GpuJob> Select(IEnumerable<GpuJob> jobs) => jobs
            .Where(j => State is null || State.Contains(j.State, StringComparer.OrdinalIgnoreCase))
            .Where(j => patterns is null || patterns.Any(p => p.IsMatch(j.Cell)))
            .ToList();
        FanOutHosts(async (h, ct) =>
        {
            List<GpuJob> jobs;
            try
            {
                var (shell, host) = await connector.OpenResolvedAsync(h, ct).ConfigureAwait(false);
                var queues = await QueueService.ReadAsync(shell, host, QueueId, ct).ConfigureAwait(false);
                Interlocked.Increment(ref read);
                if (queues.Count > 0) Interlocked.Increment(ref found);
                jobs = queues.SelectMany(q => QueueStateParser.Jobs(host, q, StaleAfter)).ToList();
            }
            catch (RgtException ex) when (ex.Kind is FailureKind.ConnectionError or FailureKind.Timeout)
            {
                // A spot box the provider took back: its cells, as last seen, are Preempted (with how to resume).
                if (await PreemptedRentalAsync(h, catalog, ct).ConfigureAwait(false) is not { } taken) throw;
                return Select(Engine.Providers.Preemption.Jobs(h, taken.Rental, taken.Api, new QueueCache().LastSeen(h.Name, QueueId)));
            }
            new QueueCache().Record(jobs);
            return Select(jobs);
        }, "Reading GPU jobs");
        // A mistyped queue id is an error, as Stop-GpuQueue says, never an empty answer.
        if (QueueId is not null && read > 0 && found == 0)
            WriteFailure(new RgtException("QueueNotFound", FailureKind.NotFound,
                $"No queue '{QueueId}' on {string.Join(", ", Hosts.Select(x => x.Name))}. List the queues with: Get-GpuJob | Select-Object Name, QueueId -Unique"), QueueId);
    }
}
