using System.Management.Automation;
using RemoteGpuTrainer.Engine;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Queues;
using RemoteGpuTrainer.Engine.Ssh;

namespace RemoteGpuTrainer.Commands;

/// <summary>Waits, bounded, until every piped job is final; reconnects each tick with a short connection.</summary>
[Cmdlet(VerbsLifecycle.Wait, "GpuJob")]
[OutputType(typeof(GpuJob))]
public sealed class WaitGpuJobCommand : RgtCmdlet
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

    protected override void ProcessRecord() => _jobs.AddRange(Job);

    protected override void EndProcessing()
    {
        var deadline = DateTime.UtcNow + Timeout;
        var current = _jobs.GroupBy(j => (j.Name, j.QueueId, j.Cell)).Select(g => g.Last()).ToDictionary(j => (j.Name, j.QueueId, j.Cell));
        IReadOnlyList<GpuHost> inventory;
        try { inventory = Inventory.Load(); }
        catch (RgtException ex) { ThrowFailure(ex, Inventory.FilePath); return; }
        var progress = new ProgressRecord(2, "Waiting for GPU jobs", "starting");
        var written = new HashSet<(string, string, string)>();
        var resolved = new System.Collections.Concurrent.ConcurrentDictionary<string, GpuHost>(StringComparer.OrdinalIgnoreCase);
        var catalog = Catalog;
        while (true)
        {
            // Each cell is written the moment it is final, so `Wait-GpuJob | Receive-Checkpoint` pulls early cells while others train.
            foreach (var j in current.Values.Where(j => j.IsFinal && written.Add((j.Name, j.QueueId, j.Cell)))) WriteObject(j);
            // A Slurm job held or refused by the cluster will not start by waiting: say so now, not at the timeout.
            foreach (var j in current.Values.Where(j => j.State is "Pending" or "Requeued" && PendingReasons.IsHopeless(j.Reason)).ToList())
            {
                WriteFailure(new RgtException("JobCannotStart", FailureKind.ResourceBusy,
                    $"{j.Name}/{j.Cell}: job {j.SchedulerJobId} is pending on {j.Reason} and will not start until someone acts (scontrol show job {j.SchedulerJobId}); not waiting for it."), j.Name);
                current.Remove((j.Name, j.QueueId, j.Cell));
            }
            // A spot rental the provider took back will not finish by waiting either.
            foreach (var j in current.Values.Where(j => j.State == "Preempted").ToList())
            {
                WriteFailure(new RgtException("RentalPreempted", FailureKind.ResourceBusy, $"{j.Name}/{j.Cell}: {j.Reason}"), j.Name);
                current.Remove((j.Name, j.QueueId, j.Cell));
            }
            var pending = current.Values.Where(j => !j.IsFinal).ToList();
            var training = pending.Where(j => j.Epoch is not null).Select(j => $"{j.Cell} epoch {j.Epoch}/{j.Epochs}").Take(3).ToList();
            var queued = pending.Where(j => j.State is "Pending" or "Requeued").GroupBy(j => j.Reason ?? "queued").Select(g => $"{g.Count()} pending ({g.Key})").ToList();
            progress.StatusDescription = $"{current.Count - pending.Count} of {current.Count} cells final" + (training.Count + queued.Count > 0 ? "; " + string.Join(", ", training.Concat(queued)) : "");
            progress.PercentComplete = current.Count == 0 ? 100 : (current.Count - pending.Count) * 100 / current.Count;
            WriteProgress(progress);
            if (pending.Count == 0) break;
            if (DateTime.UtcNow >= deadline)
            {
                WriteFailure(new RgtException("WaitTimeout", FailureKind.Timeout,
                    $"Still not final after {Timeout}: {string.Join(", ", pending.Select(j => $"{j.Name}/{j.Cell} ({j.State}{(j.Epoch is null ? "" : $", epoch {j.Epoch}/{j.Epochs}")})"))}."), pending.Select(j => j.Name).Distinct().ToArray());
                break;
            }
            try { Task.Delay(PollInterval < deadline - DateTime.UtcNow ? PollInterval : deadline - DateTime.UtcNow, Cancellation).Wait(Cancellation); }
            catch (OperationCanceledException) { return; }
            // Every host is read at once each tick (one round trip each, whatever the number of queues),
            // on a short connection: a wait must survive the link dropping in between.
            var targets = new List<(GpuHost Host, string? QueueId)>();
            foreach (var group in pending.GroupBy(j => j.Name, StringComparer.OrdinalIgnoreCase))
            {
                var host = FindHost(inventory, group.Key);
                if (host is null) { foreach (var j in group) current.Remove((j.Name, j.QueueId, j.Cell)); continue; }
                var qids = group.Select(j => j.QueueId).Distinct().ToList();
                targets.Add((host, qids.Count == 1 ? qids[0] : null));
            }
            foreach (var r in Fan(targets, ThrottleLimit, async (t, ct) =>
            {
                using var connector = NewConnector(new ConnectOptions(false, TimeSpan.FromSeconds(15)));
                try
                {
                    // Paths resolved on the first tick are absolute: later ticks skip that round trip.
                    var (shell, host) = await connector.OpenResolvedAsync(resolved.GetValueOrDefault(t.Host.Name, t.Host), ct).ConfigureAwait(false);
                    resolved[host.Name] = host;
                    var queues = await QueueService.ReadAsync(shell, host, t.QueueId, ct).ConfigureAwait(false);
                    return queues.SelectMany(q => QueueStateParser.Jobs(host, q, StaleAfter)).ToList();
                }
                catch (RgtException ex) when (ex.Kind is FailureKind.ConnectionError or FailureKind.Timeout)
                {
                    if (await PreemptedRentalAsync(t.Host, catalog, ct).ConfigureAwait(false) is not { } taken) throw;
                    return Engine.Providers.Preemption.Jobs(t.Host, taken.Rental, taken.Api, new QueueCache().LastSeen(t.Host.Name, t.QueueId));
                }
            }))
            {
                if (Cancellation.IsCancellationRequested) return;
                if (r.Error is not null) { WriteVerbose($"{r.Item.Host.Name}: {r.Error.Message} (will retry until the timeout)"); continue; }
                foreach (var j in r.Value!)
                    if (current.ContainsKey((j.Name, j.QueueId, j.Cell))) current[(j.Name, j.QueueId, j.Cell)] = j;
            }
        }
        progress.RecordType = ProgressRecordType.Completed;
        WriteProgress(progress);
    }
}
