using RemoteGpuTrainer.Engine.Hosts;
using RemoteGpuTrainer.Engine.Rentals;
using System.Management.Automation;
using RemoteGpuTrainer.Engine;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Planning;
using RemoteGpuTrainer.Engine.Probes;
using RemoteGpuTrainer.Engine.Ssh;

namespace RemoteGpuTrainer.Commands;

/// <summary>One read-only patrol tick per host: Healthy, Done or Escalate, with a one-line report.</summary>
[Cmdlet(VerbsLifecycle.Invoke, "GpuPatrol", DefaultParameterSetName = AllHosts)]
[OutputType(typeof(GpuPatrolReport))]
public sealed class InvokeGpuPatrolCommand : HostCmdlet
{
    [Parameter]
    [ArgumentCompleter(typeof(QueueCompleter))]
    public string? QueueId { get; set; }

    /// <summary>POST the reports as a JSON array to this webhook.</summary>
    [Parameter]
    public Uri? Notify { get; set; }

    /// <summary>POST to a webhook stored by Register-GpuPatrol -Notify, by its name (the URL stays in its mode-600 file).</summary>
    [Parameter]
    public string? NotifyName { get; set; }

    /// <summary>With a monitor running: escalate when the memory trend reaches the cgroup's limit within this time (default 2h).</summary>
    [Parameter]
    [Duration]
    public TimeSpan? OomWithin { get; set; }

    /// <summary>With a monitor running: GPUs under 5 % this long while a cell runs (a stall), or with none running (a meter for nothing); default 15m.</summary>
    [Parameter]
    [Duration]
    public TimeSpan? IdleAfter { get; set; }

    /// <summary>Slurm: a cell pending longer than this (its turn, free GPUs, a QOS limit) makes the verdict Warn; default 1h.</summary>
    [Parameter]
    [Duration]
    public TimeSpan? PendingWarnAfter { get; set; }

    /// <summary>Also ask the providers (keys from the environment or CLI key files): a rental in no inventory, or still running after all its cells are done, is Escalate.</summary>
    [Parameter]
    public SwitchParameter IncludeRentals { get; set; }

    /// <summary>For cron and Task Scheduler: the process exits 1 on any Escalate, 2 when a host is unreachable.</summary>
    [Parameter]
    public SwitchParameter AsExitCode { get; set; }

    /// <summary>
    /// For queues started with -Recover: when the provider says it took a rental back, start it again, follow
    /// its new address and relaunch the unfinished cells from their checkpoints (one tick at a time per queue,
    /// journalled; a tick killed half-way is finished by the next). The line says what was done, or why not.
    /// </summary>
    [Parameter]
    public SwitchParameter Recover { get; set; }

    protected override void EndProcessing()
    {
        var reports = new List<GpuPatrolReport>();
        // Patrols fail fast: short connect timeout, 10 s keepalive.
        using var connector = NewConnector(new ConnectOptions(false, TimeSpan.FromSeconds(15)));
        var forecast = new Engine.Monitoring.ForecastOptions(OomWithin, IdleAfter);
        var catalog = Catalog;
        var recovery = new Engine.Recovery.RecoveryStore();
        var ledger = new Engine.Checkpoints.EvidenceLedger();
        var mirrored = new System.Collections.Concurrent.ConcurrentQueue<GpuCheckpointMirror>();
        var mirrorErrors = new System.Collections.Concurrent.ConcurrentQueue<(string Host, RgtException Error)>();
        foreach (var r in FanOut(Hosts, ThrottleLimit, async (h, ct) =>
        {
            var slurm = catalog.Find(h.Platform)?.IsSlurm == true;
            try
            {
                var (shell, host, _) = await connector.OpenAsync(h, ct).ConfigureAwait(false);
                var output = await shell.RunAsync(Patrol.Script(host, QueueId, forecast, slurm), TimeSpan.FromSeconds(90), ct).ConfigureAwait(false);
                var report = Patrol.Parse(host, output.StdOut, DateTimeOffset.Now, forecast, slurm, PendingWarnAfter);
                // Queues started with -Recover: the scheduled tick keeps their running cells' checkpoints mirrored.
                try
                {
                    foreach (var m in await Engine.Recovery.CheckpointMirror.ForQueuesAsync(connector, host, Patrol.Jobs(host, output.StdOut), recovery, ledger, ct).ConfigureAwait(false))
                        mirrored.Enqueue(m);
                }
                catch (RgtException ex) { mirrorErrors.Enqueue((host.Name, ex)); }
                return report;
            }
            catch (RgtException ex) when (ex.Kind is FailureKind.ConnectionError or FailureKind.Timeout)
            {
                if (await Engine.Rentals.Preemption.FindAsync(h, catalog, VerboseLog, ct).ConfigureAwait(false) is not { } taken) throw;
                return Engine.Rentals.Preemption.Report(h, taken.Rental, taken.Api, new Engine.Queues.QueueCache().LastSeen(h.Name, QueueId), DateTimeOffset.Now);
            }
        }))
        {
            var report = r.Value;
            if (r.Error is not null)
            {
                WriteFailure(r.Error, r.Item.Name);
                report = Patrol.Unreachable(r.Item.Name, (r.Error as RgtException)?.ErrorId ?? "UnexpectedFailure", DateTimeOffset.Now);
            }
            reports.Add(report!);
            while (mirrored.TryDequeue(out var m))
                if (m.NeedsAttention) WriteWarning(m.Message); else WriteVerbose(m.Message);
            while (mirrorErrors.TryDequeue(out var e)) WriteFailure(e.Error, e.Host);
            if (!IncludeRentals && !Recover) WriteObject(report);
        }
        if (Recover) RecoverQueues(reports, recovery);
        if (IncludeRentals) AddRentals(reports);
        if (IncludeRentals || Recover) WriteObject(reports, true);
        if ((Notify is not null || NotifyName is not null) && reports.Count > 0)
        {
            try { if (WebhookStore.PostAsync(Notify ?? WebhookStore.Load(NotifyName!), reports, Cancellation).GetAwaiter().GetResult() is { } failed) WriteWarning(failed); }
            catch (RgtException ex) { WriteFailure(ex, NotifyName); }
        }
        if (AsExitCode)
        {
            var code = reports.Count == 0 ? 0 : reports.Max(x => x.ExitCode);
            SessionState.PSVariable.Set("global:LASTEXITCODE", code);
            // Exiting is for schedules (pwsh -NonInteractive / -Command / -File); at a prompt it would close the user's shell.
            if (code != 0 && RunsUnattended()) Host.SetShouldExit(code);
            else if (code != 0) WriteWarning($"-AsExitCode: the exit code would be {code}; it is in $LASTEXITCODE, and this interactive shell stays open. Schedules run it as: pwsh -NonInteractive -Command \"Invoke-GpuPatrol ... -AsExitCode\"");
        }
    }

    /// <summary>-Recover: each queue the engine says to try, and its outcome added to its host's report.</summary>
    void RecoverQueues(List<GpuPatrolReport> reports, Engine.Recovery.RecoveryStore store)
    {
        var (work, errors) = Engine.Recovery.Recoverer.Candidates(Hosts, reports, store);
        foreach (var (h, ex) in errors) WriteFailure(ex, h.Name);
        var context = NewRecoveryContext(store);
        foreach (var r in FanOut(work, 4, (w, ct) => Engine.Recovery.Recoverer.RecoverAsync(w.Host, w.Policy, context, ct)))
        {
            var i = reports.FindIndex(x => x.Name == r.Item.Host.Name);
            if (r.Error is not null)
            {
                WriteFailure(r.Error, r.Item.Host.Name);
                if (i >= 0) reports[i] = reports[i].WithRecovery($"recovery of {r.Item.Policy.QueueId} failed: {r.Error.Message}", false);
                continue;
            }
            WriteVerbose($"{r.Item.Host.Name}: {r.Value!.Line}");
            if (i >= 0) reports[i] = reports[i].WithRecovery(r.Value.Line, r.Value.Recovered);
        }
    }

    /// <summary>Forgotten rentals become reports of their own; a Done host whose rental still runs becomes Escalate.</summary>
    void AddRentals(List<GpuPatrolReport> reports)
    {
        IReadOnlyList<GpuHost> inventory;
        try { inventory = Inventory.Load(); }
        catch (RgtException ex) { WriteFailure(ex, Inventory.FilePath); return; }
        var providers = Engine.Rentals.RentalCensus.ProvidersToAsk(inventory, Environment.GetFolderPath(Environment.SpecialFolder.UserProfile));
        Engine.Rentals.RentalCensus.Merge(reports, ListRentals(providers, inventory), DateTimeOffset.Now);
    }

}
