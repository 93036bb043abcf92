using System.Management.Automation;
using RemoteGpuTrainer.Engine;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Queues;
using RemoteGpuTrainer.Engine.Recovery;
using RemoteGpuTrainer.Engine.Ssh;

namespace RemoteGpuTrainer.Commands;

/// <summary>Waits, bounded, until every piped job is final; reconnects each tick with a short connection.</summary>
[Cmdlet(VerbsLifecycle.Wait, "GpuJob")]
[OutputType(typeof(GpuJob))]
public sealed class WaitGpuJobCommand : SshCmdlet
{
    readonly List<GpuJob> _jobs = new();

    [Parameter(Mandatory = true, ValueFromPipeline = true)]
    public GpuJob[] Job { get; set; } = Array.Empty<GpuJob>();

    [Parameter]
    [Duration]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromHours(1);

    [Parameter]
    [Duration]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How many hosts are read at once each tick.</summary>
    [Parameter]
    [ValidateRange(1, 1024)]
    public int ThrottleLimit { get; set; } = 32;

    [Parameter]
    [Duration]
    public TimeSpan StaleAfter { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>
    /// For queues started with -Recover: when the provider says it took a box back, recover the queue here and
    /// now (as Invoke-GpuPatrol -Recover does: start it again or rent the next offer, push the checkpoints,
    /// relaunch) and go on waiting for its cells on the box they moved to.
    /// </summary>
    [Parameter]
    public SwitchParameter Recover { get; set; }

    protected override void ProcessRecord() => _jobs.AddRange(Job);

    protected override void EndProcessing()
    {
        var deadline = DateTime.UtcNow + Timeout;
        var wait = new JobWait(_jobs);
        IReadOnlyList<GpuHost> inventory;
        try { inventory = Inventory.Load(); }
        catch (RgtException ex) { ThrowFailure(ex, Inventory.FilePath); return; }
        var progress = new ProgressRecord(2, "Waiting for GPU jobs", "starting");
        var resolved = new System.Collections.Concurrent.ConcurrentDictionary<string, GpuHost>(StringComparer.OrdinalIgnoreCase);
        var catalog = Catalog;
        var recovery = new RecoveryStore();
        var ledger = new Engine.Checkpoints.EvidenceLedger();
        var context = Recover ? NewRecoveryContext(recovery) : null;
        while (true)
        {
            var look = wait.Next();
            foreach (var j in look.Final) WriteObject(j);
            foreach (var (j, error) in look.GivenUp) WriteFailure(error, j.Name);
            progress.StatusDescription = look.Status;
            progress.PercentComplete = look.Percent;
            WriteProgress(progress);
            if (look.Pending.Count == 0) break;
            if (DateTime.UtcNow >= deadline)
            {
                WriteFailure(JobWait.TimedOut(look.Pending, Timeout), look.Pending.Select(j => j.Name).Distinct().ToArray());
                break;
            }
            try { Task.Delay(PollInterval < deadline - DateTime.UtcNow ? PollInterval : deadline - DateTime.UtcNow, Cancellation).Wait(Cancellation); }
            catch (OperationCanceledException) { return; }
            // Every host is read at once each tick (one round trip each, whatever the number of queues),
            // on a short connection: a wait must survive the link dropping in between.
            var targets = new List<(GpuHost Host, string? QueueId)>();
            foreach (var (name, queueId) in JobWait.Targets(look.Pending))
            {
                if (FindHost(inventory, name) is { } host) targets.Add((host, queueId));
                else wait.Forget(name);
            }
            foreach (var r in FanOut(targets, ThrottleLimit, async (t, ct) =>
            {
                using var connector = NewConnector(new ConnectOptions(false, TimeSpan.FromSeconds(15)));
                // Paths resolved on the first tick are absolute: later ticks skip that round trip.
                var got = await JobReader.ReadAsync(connector, resolved.GetValueOrDefault(t.Host.Name, t.Host), t.QueueId, StaleAfter, catalog, VerboseLog, ct).ConfigureAwait(false);
                resolved[got.Host.Name] = got.Host;
                // -Recover: a queue the provider took back is recovered now; its cells are read again next tick, where they went.
                var recovered = context is null ? new() : await Recoverer.RecoverTakenAsync(t.Host, got.Jobs, context, ct).ConfigureAwait(false);
                if (recovered.Count > 0) return (got.Jobs, new List<GpuCheckpointMirror>(), (RgtException?)null, recovered);
                // Queues started with -Recover keep their running cells' newest checkpoints mirrored, tick by tick.
                List<GpuCheckpointMirror> mirrored;
                RgtException? mirrorError = null;
                try { mirrored = await CheckpointMirror.ForQueuesAsync(connector, got.Host, got.Jobs, recovery, ledger, ct).ConfigureAwait(false); }
                catch (RgtException ex) { mirrored = new(); mirrorError = ex; }
                return (got.Jobs, mirrored, mirrorError, recovered);
            }))
            {
                if (Cancellation.IsCancellationRequested) return;
                if (r.Error is not null) { WriteVerbose($"{r.Item.Host.Name}: {r.Error.Message} (will retry until the timeout)"); continue; }
                var (jobs, mirrored, mirrorError, recovered) = r.Value!;
                foreach (var o in recovered) WriteWarning($"{r.Item.Host.Name}: {o.Line}");
                if (recovered.Any(o => o.Recovered))
                {
                    // The host may have a new address or be another rental now: both are read afresh.
                    resolved.TryRemove(r.Item.Host.Name, out _);
                    try { inventory = Inventory.Load(); } catch (RgtException ex) { WriteFailure(ex, Inventory.FilePath); }
                    continue;
                }
                foreach (var m in mirrored)
                    if (m.NeedsAttention) WriteWarning(m.Message); else WriteVerbose(m.Message);
                if (mirrorError is not null) WriteFailure(mirrorError, r.Item.Host.Name);
                wait.Update(jobs);
            }
        }
        progress.RecordType = ProgressRecordType.Completed;
        WriteProgress(progress);
    }
}
