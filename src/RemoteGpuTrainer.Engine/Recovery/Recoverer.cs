using RemoteGpuTrainer.Engine.Hosts;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Platforms;
using RemoteGpuTrainer.Engine.Providers;
using RemoteGpuTrainer.Engine.Queues;
using RemoteGpuTrainer.Engine.Rentals;
using RemoteGpuTrainer.Engine.Ssh;

namespace RemoteGpuTrainer.Engine.Recovery;

/// <summary>What one recovery attempt did; Status: Recovered, Busy, NotPreempted, LimitReached, NeedsNewRental.</summary>
public sealed record RecoveryOutcome(string Host, string QueueId, string Status, string Line)
{
    public bool Recovered => Status == "Recovered";
}

/// <summary>
/// Invoke-GpuPatrol -Recover for one queue with a policy. It acts only on positive evidence (the provider
/// says it took the rental back), one tick at a time per queue (a lock; a second tick does nothing), and
/// every step goes to the queue's journal first, so a tick killed half-way is finished by the next one
/// without starting or renting anything twice. The way it recovers today: the provider starts the same
/// rental again (RunPod, vast.ai, Paperspace; its disk kept the checkpoints), the inventory follows its new
/// address, and the unfinished cells are relaunched, each to go on from its checkpoint; the mirror's epoch
/// at that moment is recorded, and the cell's first new checkpoint proves the resume (or not). A provider
/// that cannot start the instance again (Lambda), or recoveries past -MaxRecoveries, stop with the reason.
/// </summary>
public static class Recoverer
{
    static readonly string[] Unfinished = { "restarting", "restarted", "resume-from" };

    /// <summary>A recovery that a killed tick left half done: the journal's last step comes before the relaunch.</summary>
    public static bool Pending(IReadOnlyList<JournalEntry> entries) => entries.Count > 0 && Unfinished.Contains(entries[^1].Step);

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

    public static async Task<RecoveryOutcome> RecoverAsync(GpuHost host, RecoveryPolicy policy, RecoveryStore store, PlatformCatalog catalog,
        HostInventory inventory, Func<ConnectOptions, HostConnector> connect, LaunchOptions launch, Action<string> log, CancellationToken ct)
    {
        RecoveryOutcome Outcome(string status, string line) => new(host.Name, policy.QueueId, status, line);
        using var held = store.TryLock(host.Name, policy.QueueId);
        if (held is null) return Outcome("Busy", $"recovery of {policy.QueueId}: another tick is recovering it; this one does nothing");
        var journal = new RecoveryJournal(store.JournalOf(host.Name, policy.QueueId));
        var entries = journal.Read();
        var pending = Pending(entries);
        if (!CloudProviders.Manages(host))
            return Outcome("NeedsNewRental", $"recovery of {policy.QueueId}: {host.Name} is not a provider's rental; nothing can start it again");
        using var api = CloudProviders.Connect(host.Provider!, null, log, catalog);
        if (!pending)
        {
            if (await Preemption.AskAsync(api, host, ct).ConfigureAwait(false) is not { } taken)
                return Outcome("NotPreempted", $"recovery of {policy.QueueId}: {api.Name} does not say it took rental {host.RentalId} back; nothing is done on an SSH failure alone");
            if (RecoveryJournal.Recoveries(entries) >= policy.MaxRecoveries)
            {
                journal.Add(new JournalEntry(DateTimeOffset.UtcNow, "stopped", Detail: $"-MaxRecoveries {policy.MaxRecoveries} reached"));
                return Outcome("LimitReached", $"recovery of {policy.QueueId}: {policy.MaxRecoveries} recoveries done, the most -MaxRecoveries allows; resume by hand: {Preemption.Resume(host, api, policy.QueueId)}");
            }
            if (!api.CanStop)
            {
                journal.Add(new JournalEntry(DateTimeOffset.UtcNow, "stopped", Detail: $"{api.Name} cannot start a preempted instance again"));
                return Outcome("NeedsNewRental", $"recovery of {policy.QueueId}: {api.Name} gives no preempted instance back, and renting the next offer is not built yet: {Preemption.Resume(host, api, policy.QueueId)}");
            }
            journal.Add(new JournalEntry(DateTimeOffset.UtcNow, "preempted", Detail: $"{api.Name} rental {host.RentalId} ({taken.ProviderState})"));
        }
        var relaunch = policy.Relaunch ?? throw new RgtException("RecoveryPolicyIncomplete", FailureKind.InvalidData,
            $"The recovery policy of {host.Name}/{policy.QueueId} does not say how to launch the queue again; run Start-GpuQueue … -Recover once more to record it.");
        journal.Add(new JournalEntry(DateTimeOffset.UtcNow, "restarting", Detail: $"{api.Name} rental {host.RentalId}"));
        var moved = await RentalStart.StartAndFollowAsync(api, host, launch, inventory, connect, log, (_, _) => { }, ct).ConfigureAwait(false);
        journal.Add(new JournalEntry(DateTimeOffset.UtcNow, "restarted", Detail: $"{moved.HostName}:{moved.Port ?? 22}"));

        using var connector = connect(new ConnectOptions(false, TimeSpan.FromSeconds(30)));
        var (shell, resolved, _) = await connector.OpenAsync(moved, ct).ConfigureAwait(false);
        var jobs = (await QueueService.ReadAsync(shell, resolved, policy.QueueId, ct).ConfigureAwait(false))
            .SelectMany(q => QueueStateParser.Jobs(resolved, q, TimeSpan.FromHours(2))).ToList();
        var plan = relaunch.Plan(policy.QueueId);
        if (plan.WorkingDirectory is { } wd) plan = plan with { WorkingDirectory = await connector.ResolvePathAsync(resolved, wd, ct).ConfigureAwait(false) };
        var unfinished = plan.Owned.Where(c => jobs.FirstOrDefault(j => j.Cell == c.Name)?.State != nameof(CellState.Succeeded)).ToList();
        foreach (var c in unfinished)
            journal.Add(new JournalEntry(DateTimeOffset.UtcNow, "resume-from", c.Name, CheckpointMirror.LastEpoch(policy, c.Index, c.Name)));
        await QueueService.StartAsync(shell, resolved, GpuPlatformDefaults.From(catalog.Find(resolved.Platform)), plan, null, ct).ConfigureAwait(false);
        journal.Add(new JournalEntry(DateTimeOffset.UtcNow, "relaunched", Detail: $"{unfinished.Count} cell(s): {string.Join(", ", unfinished.Select(c => c.Name))}"));
        return Outcome("Recovered",
            $"recovered {policy.QueueId}: {api.Name} started rental {host.RentalId} again at {moved.HostName}:{moved.Port ?? 22}; relaunched {unfinished.Count} unfinished cell(s)"
            + (unfinished.Count == 0 ? "" : $" ({string.Join(", ", unfinished.Select(c => $"{c.Name} from epoch {CheckpointMirror.LastEpoch(policy, c.Index, c.Name)?.ToString() ?? "none mirrored"}"))})"));
    }
}
