using System.Management.Automation;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Queues;
using RemoteGpuTrainer.Engine.Ssh;

namespace RemoteGpuTrainer.Commands;

/// <summary>One GpuJob per cell of the queues on each host, from markers and the cell's own log, in one round trip per host.</summary>
[Cmdlet(VerbsCommon.Get, "GpuJob", DefaultParameterSetName = ByName)]
[OutputType(typeof(GpuJob))]
public sealed class GetGpuJobCommand : HostCmdlet
{
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? QueueId { get; set; }

    [Parameter]
    [ValidateSet("Pending", "Running", "Succeeded", "Failed", "NoArtifact", "SyncFailed", "Stale")]
    public string[]? State { get; set; }

    [Parameter]
    [SupportsWildcards]
    public string[]? Cell { get; set; }

    /// <summary>A Running cell whose log has not changed for this long is Stale.</summary>
    [Parameter]
    public TimeSpan StaleAfter { get; set; } = TimeSpan.FromMinutes(30);

    protected override void EndProcessing()
    {
        var patterns = Cell?.Select(c => new WildcardPattern(c, WildcardOptions.IgnoreCase)).ToList();
        using var connector = new HostConnector();
        FanOutHosts(async (h, ct) =>
        {
            var (shell, host) = await connector.OpenResolvedAsync(h, ct).ConfigureAwait(false);
            var queues = await QueueService.ReadAsync(shell, host, QueueId, ct).ConfigureAwait(false);
            return queues.SelectMany(q => QueueStateParser.Jobs(host, q, StaleAfter))
                .Where(j => State is null || State.Contains(j.State, StringComparer.OrdinalIgnoreCase))
                .Where(j => patterns is null || patterns.Any(p => p.IsMatch(j.Cell)))
                .ToList();
        }, "Reading GPU jobs");
    }
}
