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
        FanOut(async (h, ct) =>
        {
            var got = await JobReader.ReadAsync(connector, h, QueueId, StaleAfter, catalog, VerboseLog, ct).ConfigureAwait(false);
            // A spot box the provider took back: its cells, as last seen, are Preempted (with how to resume); nothing to record.
            if (got.Queues is not { } queues) return Select(got.Jobs);
            Interlocked.Increment(ref read);
            if (queues > 0) Interlocked.Increment(ref found);
            new QueueCache().Record(got.Jobs);
            return Select(got.Jobs);
        }, "Reading GPU jobs");
        // A mistyped queue id is an error, as Stop-GpuQueue says, never an empty answer.
        if (QueueId is not null && read > 0 && found == 0)
            WriteFailure(new RgtException("QueueNotFound", FailureKind.NotFound,
                $"No queue '{QueueId}' on {string.Join(", ", Hosts.Select(x => x.Name))}. List the queues with: Get-GpuJob | Select-Object Name, QueueId -Unique"), QueueId);
    }
}
