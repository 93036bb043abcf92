using RemoteGpuTrainer.Engine.Hosts;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Platforms;
using RemoteGpuTrainer.Engine.Providers;
using RemoteGpuTrainer.Engine.Queues;
using RemoteGpuTrainer.Engine.Rentals;
using RemoteGpuTrainer.Engine.Ssh;

namespace RemoteGpuTrainer.Engine.Recovery;

/// <summary>
/// What one recovery attempt did. Status: Recovered; Busy (another tick holds the queue); NotPreempted;
/// LimitReached (-MaxRecoveries), BudgetReached (-MaxSpend), Stopped (an earlier stop stands), NoCapacity
/// (no offer now: the next tick tries again), NeedsNewRental (nothing the module can rent or start), Failed (Wait-GpuJob: the error, in words).
/// </summary>
public sealed record RecoveryOutcome(string Host, string QueueId, string Status, string Line)
{
    public bool Recovered => Status == "Recovered";
}

/// <summary>What a recovery works with: the stores, the inventory, how to connect, how long a start may take, where it logs, the user's home (SSH keys).</summary>
public sealed record RecoveryContext(RecoveryStore Store, PlatformCatalog Catalog, HostInventory Inventory, Func<ConnectOptions, HostConnector> Connect,
    LaunchOptions Launch, Action<string> Log, string Home)
{
    public QueueCache Cache { get; init; } = new();
    public Func<string, ICloudProvider>? Api { get; init; }

    public ICloudProvider Open(string provider) => Api?.Invoke(provider) ?? CloudProviders.Connect(provider, null, Log, Catalog);
}

/// <summary>
/// Invoke-GpuPatrol -Recover (and Wait-GpuJob -Recover) for one queue with a policy. It acts only on
/// positive evidence (the provider says it took the rental back), one tick at a time per queue (a lock;
/// a second tick does nothing), and every step goes to the queue's journal first, so a tick killed half
/// way is finished by the next one without starting or renting anything twice. Two ways back:
/// the provider starts the same rental again within -RestartWithin (its disk kept the checkpoints), or
/// the next offer like it is rented (<see cref="RecoveryRental"/>): set up, each unfinished cell's
/// mirrored checkpoint pushed into its checkpoint folder, and the queue's host name moved to it. Either
/// way the unfinished cells are relaunched, each to go on from its checkpoint (RGT_RESUME_FROM); the
/// mirror's epoch at that moment is recorded, and the cell's first new checkpoint proves the resume (or not).
/// </summary>
public static class Recoverer
{
    static readonly string[] Waiting = { "no-offer", "stopped" };

    /// <summary>A recovery a killed tick left half done: steps after the last relaunch, the last of them not a stop or a wait for capacity.</summary>
    public static bool Pending(IReadOnlyList<JournalEntry> entries) =>
        RecoveryJournal.Current(entries) is { Count: > 0 } current && !Waiting.Contains(current[^1].Step);

    /// <summary>
    /// The queues a -Recover tick tries: those with a policy on a host the tick found preempted or unreachable
    /// (RecoverAsync then asks the provider), and those whose journal shows a recovery a killed tick left half
    /// done. A host whose policies cannot be read is returned with its error.
    /// </summary>
    public static (List<(GpuHost Host, RecoveryPolicy Policy)> Work, List<(GpuHost Host, RgtException Error)> Errors) Candidates(
        IEnumerable<GpuHost> hosts, IReadOnlyList<GpuPatrolReport> reports, RecoveryStore store)
    {
        var work = new List<(GpuHost, RecoveryPolicy)>();
        var errors = new List<(GpuHost, RgtException)>();
        foreach (var h in hosts)
        {
            try
            {
                var down = reports.FirstOrDefault(r => r.Name == h.Name) is { Preempted: true } or { Unreachable: true };
                foreach (var p in store.ForHost(h.Name))
                    if (down || Pending(new RecoveryJournal(store.JournalOf(h.Name, p.QueueId)).Read())) work.Add((h, p));
            }
            catch (RgtException ex) { errors.Add((h, ex)); }
        }
        return (work, errors);
    }

    /// <summary>
    /// Wait-GpuJob -Recover: each queue of one read whose cells came back Preempted (the provider said so)
    /// and that has a policy is recovered now, one after the other; the outcomes, none when there was nothing to do.
    /// </summary>
    /// <param name="host">The host as the inventory has it (its paths not resolved): a recovery writes it back.</param>
    public static async Task<List<RecoveryOutcome>> RecoverTakenAsync(GpuHost host, IReadOnlyList<GpuJob> read, RecoveryContext cx, CancellationToken ct)
    {
        var outcomes = new List<RecoveryOutcome>();
        foreach (var queueId in read.Where(j => j.State == nameof(CellState.Preempted)).Select(j => j.QueueId).Distinct())
        {
            try
            {
                if (cx.Store.Find(host.Name, queueId) is { } policy)
                    outcomes.Add(await RecoverAsync(host, policy, cx, ct).ConfigureAwait(false));
            }
            catch (RgtException ex) { outcomes.Add(new RecoveryOutcome(host.Name, queueId, "Failed", $"recovery of {queueId} failed ({ex.ErrorId}): {ex.Message}")); }
        }
        return outcomes;
    }

    public static async Task<RecoveryOutcome> RecoverAsync(GpuHost host, RecoveryPolicy policy, RecoveryContext cx, CancellationToken ct)
    {
        RecoveryOutcome Outcome(string status, string line) => new(host.Name, policy.QueueId, status, line);
        using var held = cx.Store.TryLock(host.Name, policy.QueueId);
        if (held is null) return Outcome("Busy", $"recovery of {policy.QueueId}: another tick is recovering it; this one does nothing");
        var journal = new RecoveryJournal(cx.Store.JournalOf(host.Name, policy.QueueId));
        var entries = journal.Read();
        var current = RecoveryJournal.Current(entries);
        if (current.LastOrDefault(e => e.Step is "stopped") is { } stop)
            return Outcome("Stopped", $"recovery of {policy.QueueId} stopped at {stop.Time:yyyy-MM-dd HH:mm}Z: {stop.Detail}; Start-GpuQueue … -Recover starts it afresh");
        if (!CloudProviders.Manages(host))
            return Outcome("NeedsNewRental", $"recovery of {policy.QueueId}: {host.Name} is not a provider's rental; no provider can say it took it back, so nothing is done on an SSH failure");
        using var api = cx.Open(host.Provider!);
        if (!Pending(entries))
        {
            if (await Preemption.AskAsync(api, host, ct).ConfigureAwait(false) is not { } taken)
                return Outcome("NotPreempted", $"recovery of {policy.QueueId}: {api.Name} does not say it took rental {host.RentalId} back; nothing is done on an SSH failure alone");
            if (RecoveryJournal.Recoveries(entries) >= policy.MaxRecoveries)
            {
                journal.Add(new JournalEntry(DateTimeOffset.UtcNow, "stopped", Detail: $"-MaxRecoveries {policy.MaxRecoveries} reached"));
                return Outcome("LimitReached", $"recovery of {policy.QueueId}: {policy.MaxRecoveries} recoveries done, the most -MaxRecoveries allows; resume by hand: {Preemption.Resume(host, api, policy.QueueId)}");
            }
            if (!current.Any(e => e.Step == "preempted" && e.Rental == host.RentalId))
                journal.Add(new JournalEntry(DateTimeOffset.UtcNow, "preempted", Detail: $"{api.Name} rental {host.RentalId} ({taken.ProviderState})", Rental: host.RentalId, Price: host.HourlyPrice));
            current = RecoveryJournal.Current(journal.Read());
        }
        var relaunch = policy.Relaunch ?? throw new RgtException("RecoveryPolicyIncomplete", FailureKind.InvalidData,
            $"The recovery policy of {host.Name}/{policy.QueueId} does not say how to launch the queue again; run Start-GpuQueue … -Recover once more to record it.");

        using var connector = cx.Connect(new ConnectOptions(false, TimeSpan.FromSeconds(30)));
        var rentNext = current.Any(e => e.Step is "renting" or "restart-failed") || !api.CanStop || policy.RestartWithin <= TimeSpan.Zero;
        if (!rentNext)
        {
            var restarted = await RestartAsync(api, host, policy, journal, current, cx, ct).ConfigureAwait(false);
            if (restarted is not null)
            {
                var cells = await RelaunchAsync(restarted, policy, relaunch, journal, null, cx, connector, ct).ConfigureAwait(false);
                return Outcome("Recovered", $"recovered {policy.QueueId}: {api.Name} started rental {host.RentalId} again at {restarted.HostName}:{restarted.Port ?? 22}; {cells}");
            }
        }
        var rent = await RecoveryRental.RentNextAsync(host, policy, journal, cx, connector, ct).ConfigureAwait(false);
        if (rent.Stop is { } why) return Outcome(why.Status, $"recovery of {policy.QueueId}: {why.Line}");
        var relaunched = await RelaunchAsync(rent.Host!, policy, relaunch, journal, rent.Unfinished, cx, connector, ct).ConfigureAwait(false);
        return Outcome("Recovered", $"recovered {policy.QueueId}: {rent.Line}; {relaunched}");
    }

    /// <summary>The same rental started again within -RestartWithin; null when it did not come back in time (asked to stop again, journalled).</summary>
    static async Task<GpuHost?> RestartAsync(ICloudProvider api, GpuHost host, RecoveryPolicy policy, RecoveryJournal journal, IReadOnlyList<JournalEntry> current,
        RecoveryContext cx, CancellationToken ct)
    {
        if (current.Any(e => e.Step == "restarted")) return cx.Inventory.Load().First(h => h.Name == host.Name);
        journal.Add(new JournalEntry(DateTimeOffset.UtcNow, "restarting", Detail: $"{api.Name} rental {host.RentalId}", Rental: host.RentalId));
        try
        {
            var moved = await RentalStart.StartAndFollowAsync(api, host, cx.Launch with { Timeout = policy.RestartWithin }, cx.Inventory, cx.Connect, cx.Log, (_, _) => { }, ct).ConfigureAwait(false);
            journal.Add(new JournalEntry(DateTimeOffset.UtcNow, "restarted", Detail: $"{moved.HostName}:{moved.Port ?? 22}", Rental: host.RentalId));
            return moved;
        }
        catch (RgtException ex) when (ex.ErrorId is "RentalTimeout" or "RentalStartFailed" or "RentalNotFound" or "NoCapacity")
        {
            // It did not come back in time: it is asked to stop again (the recovery started it, so it does not leave it billing), and the next offer is rented.
            string stopped;
            try { using var own = new CancellationTokenSource(TimeSpan.FromSeconds(60)); await api.StopAsync(host.RentalId!, own.Token).ConfigureAwait(false); stopped = "asked to stop again"; }
            catch (Exception stopError) { stopped = $"the stop asked after it failed: {stopError.Message}"; }
            journal.Add(new JournalEntry(DateTimeOffset.UtcNow, "restart-failed", Detail: $"{ex.Message} ({stopped})", Rental: host.RentalId));
            cx.Log($"{host.Name}: {ex.Message}; {stopped}; renting the next offer");
            return null;
        }
    }

    /// <summary>
    /// Relaunches the queue's unfinished cells on <paramref name="target"/>: those the box does not show
    /// Succeeded, or on a newly rented box the ones the recovery pushed for. Each gets a "resume-from" line
    /// with the epoch it must go on from; returns the words for the outcome.
    /// </summary>
    static async Task<string> RelaunchAsync(GpuHost target, RecoveryPolicy policy, RelaunchSpec relaunch, RecoveryJournal journal, IReadOnlyList<string>? only,
        RecoveryContext cx, HostConnector connector, CancellationToken ct)
    {
        var (shell, resolved, _) = await connector.OpenAsync(target, ct).ConfigureAwait(false);
        var plan = relaunch.Plan(policy.QueueId);
        if (plan.WorkingDirectory is { } wd) plan = plan with { WorkingDirectory = await connector.ResolvePathAsync(resolved, wd, ct).ConfigureAwait(false) };
        List<QueueCell> unfinished;
        if (only is not null) unfinished = plan.Owned.Where(c => only.Contains(c.Name)).ToList();
        else
        {
            var jobs = (await QueueService.ReadAsync(shell, resolved, policy.QueueId, ct).ConfigureAwait(false))
                .SelectMany(q => QueueStateParser.Jobs(resolved, q, TimeSpan.FromHours(2))).ToList();
            unfinished = plan.Owned.Where(c => jobs.FirstOrDefault(j => j.Cell == c.Name)?.State != nameof(CellState.Succeeded)).ToList();
        }
        var from = unfinished.ToDictionary(c => c.Name, c => CheckpointMirror.LastEpoch(policy, c.Index, c.Name));
        foreach (var c in unfinished)
            journal.Add(new JournalEntry(DateTimeOffset.UtcNow, "resume-from", c.Name, from[c.Name]));
        if (unfinished.Count > 0)
            await QueueService.StartAsync(shell, resolved, GpuPlatformDefaults.From(cx.Catalog.Find(resolved.Platform)), only is null ? plan : plan with { Owned = unfinished }, null, ct).ConfigureAwait(false);
        journal.Add(new JournalEntry(DateTimeOffset.UtcNow, "relaunched", Detail: string.Join("\n", unfinished.Select(c => c.Name)), Rental: target.RentalId));
        return $"relaunched {unfinished.Count} unfinished cell(s)"
            + (unfinished.Count == 0 ? "" : $" ({string.Join(", ", unfinished.Select(c => $"{c.Name} from epoch {from[c.Name]?.ToString() ?? "none mirrored"}"))})");
    }
}
