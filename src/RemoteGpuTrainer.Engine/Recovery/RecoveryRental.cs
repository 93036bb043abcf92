using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Providers;
using RemoteGpuTrainer.Engine.Queues;
using RemoteGpuTrainer.Engine.Rentals;
using RemoteGpuTrainer.Engine.Ssh;
using RemoteGpuTrainer.Engine.Transfers;

namespace RemoteGpuTrainer.Engine.Recovery;

/// <summary>What renting the next box came to: the box (by the queue's host name now) and the cells to relaunch there, or why it stopped.</summary>
public sealed record RentResult(GpuHost? Host, IReadOnlyList<string>? Unfinished, string Line, (string Status, string Line)? Stop);

/// <summary>
/// The second way back from a preemption: rent the next offer like the taken rental (its template, or
/// -RecoverFrom) within -MaxSpend, set it up (-Sync, -SetupScript), push each unfinished cell's mirrored
/// checkpoint into its checkpoint folder there (the upload is checked against the box's own SHA-256), and
/// give it the queue's host name (the taken rental stays in the inventory as &lt;name&gt;-preempted-N, as
/// the provider has it, for Get-GpuRental and Remove-GpuRental to judge). Each step is journalled before
/// the next begins, so a killed tick resumes at the step it did not finish; a box that was rented and then
/// could not be used is terminated at once and the recovery stops with the reason.
/// </summary>
public static class RecoveryRental
{
    /// <param name="connector">The recovery's connector: the rented box is set up, given the checkpoints and then relaunched over one connection, its paths resolved once.</param>
    public static async Task<RentResult> RentNextAsync(GpuHost host, RecoveryPolicy policy, RecoveryJournal journal, RecoveryContext cx, HostConnector connector, CancellationToken ct)
    {
        var current = RecoveryJournal.Current(journal.Read());
        bool Done(string step) => current.Any(e => e.Step == step);
        var renting = current.LastOrDefault(e => e.Step == "renting");
        var unfinished = renting?.Detail?.Split('\n', StringSplitOptions.RemoveEmptyEntries) ?? Array.Empty<string>();
        if (Done("moved"))
            return new RentResult(cx.Inventory.Load().First(h => h.Name == host.Name), unfinished, $"{host.Name} was moved to the rented box by an earlier tick", null);

        var rented = current.LastOrDefault(e => e.Step == "rented");
        if (rented is null && renting?.Rental is { } name && cx.Inventory.Load().FirstOrDefault(h => h.Name == name) is { } registered)
        {
            // The killed tick got as far as the registration: that rental is the one, nothing is rented again.
            journal.Add(rented = Rented(registered, "registered by an earlier tick"));
        }
        if (rented is null)
        {
            if (renting?.Rental is { } half) await AbandonHalfMadeAsync(half, policy, host, journal, cx, ct).ConfigureAwait(false);
            var started = await RentAsync(host, policy, journal, cx, ct).ConfigureAwait(false);
            if (started.Stop is not null) return started;
            current = RecoveryJournal.Current(journal.Read());
            (rented, unfinished) = (current.Last(e => e.Step == "rented"), started.Unfinished!.ToArray());
        }
        var box = cx.Inventory.Load().FirstOrDefault(h => h.Name == rented.Rental)
            ?? throw new RgtException("RecoveryJournalBroken", FailureKind.InvalidData,
                $"The recovery journal of {host.Name}/{policy.QueueId} says {rented.Rental} was rented ({rented.Detail}), and the inventory has no such host: look for it with Get-GpuRental and remove or register it; the journal is {journal.FilePath}.");
        try
        {
            if (!Done("set-up")) await SetUpAsync(box, policy, journal, connector, ct).ConfigureAwait(false);
            await PushAsync(box, policy, unfinished, journal, connector, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RgtException or IOException)
        {
            using var api = cx.Open(box.Provider!);
            var orphan = await RentalLauncher.TerminateAsync(api, box.RentalId!, cx.Log).ConfigureAwait(false);
            if (orphan is null) cx.Inventory.Update(list => { list.RemoveAll(h => h.Name == box.Name); return list; });
            var fate = orphan is null ? $"{api.Name} rental {box.RentalId} was terminated: nothing is billing" : orphan.Message;
            journal.Add(new JournalEntry(DateTimeOffset.UtcNow, "abandoned", Detail: $"{ex.Message} {fate}", Rental: box.Name));
            journal.Add(new JournalEntry(DateTimeOffset.UtcNow, "stopped", Detail: $"the rented box could not be set up ({ex.Message})"));
            throw new RgtException("RecoverySetupFailed", FailureKind.OperationFailed,
                $"{host.Name}/{policy.QueueId}: the box rented to recover the queue could not be set up: {ex.Message} {fate}. The recovery stops here; fix -SetupScript/-Sync and run Start-GpuQueue … -Recover again.", ex);
        }
        var moved = Move(host, box, policy.QueueId, journal, cx);
        return new RentResult(moved, unfinished, $"{host.Provider} took rental {host.RentalId} back; rented {box.Provider} rental {box.RentalId} ({rented.Price} {box.Currency}/h) as {host.Name} at {box.HostName}:{box.Port ?? 22}", null);
    }

    static JournalEntry Rented(GpuHost box, string how) =>
        new(DateTimeOffset.UtcNow, "rented", Detail: $"{box.Provider} rental {box.RentalId} at {box.HostName}:{box.Port ?? 22} ({how})", Rental: box.Name, Price: box.HourlyPrice);

    /// <summary>The budget, the offers, the create: returns the cells to relaunch, or why nothing was rented.</summary>
    static async Task<RentResult> RentAsync(GpuHost host, RecoveryPolicy policy, RecoveryJournal journal, RecoveryContext cx, CancellationToken ct)
    {
        RentResult Stop(string status, string line, bool final)
        {
            journal.Add(new JournalEntry(DateTimeOffset.UtcNow, final ? "stopped" : "no-offer", Detail: line));
            return new RentResult(null, null, line, (status, line));
        }
        var template = policy.RecoverFrom ?? host.RentalTemplate
            ?? throw new RgtException("RecoveryPolicyIncomplete", FailureKind.InvalidData,
                $"{host.Name}/{policy.QueueId}: there is nothing to say what to rent instead of {host.Name} ({host.Provider} rental {host.RentalId} was not created by New-GpuRental -Provider/-Offer); record it with Start-GpuQueue … -Recover -RecoverFrom (Get-GpuOffer …).");
        var entries = journal.Read();
        var now = DateTimeOffset.UtcNow;
        var spent = RecoverySpend.Spent(policy, entries, now);
        var finished = cx.Cache.LastSeen(host.Name, policy.QueueId).Where(c => c.State == nameof(CellState.Succeeded)).Select(c => c.Cell).ToHashSet();
        // The cells still to run: those of the last relaunch (the others had finished on an earlier box), less those seen finished since.
        var last = RecoveryJournal.LastRelaunched(entries);
        var cells = policy.Relaunch!.Plan(policy.QueueId).Owned.Where(c => last is null || last.Contains(c.Name)).ToList();
        var unfinished = cells.Where(c => !finished.Contains(c.Name)).ToList();
        var (hours, how) = RecoverySpend.Remaining(cx.Cache.LastSeen(host.Name, policy.QueueId), unfinished.Select(c => c.Name).ToList(),
            cell => cells.FirstOrDefault(c => c.Name == cell) is { } q ? CheckpointMirror.LastEpoch(policy, q.Index, q.Name) : null);
        if (policy.MaxSpend is { } cap && spent >= cap)
            return Stop("BudgetReached", $"-MaxSpend {RecoverySpend.Money(cap)} reached: the queue's rentals have cost {RecoverySpend.Money(spent)} so far; nothing more is rented", true);

        var offers = new List<GpuOffer>();
        var apis = new Dictionary<string, ICloudProvider>();
        try
        {
            foreach (var p in template.Providers)
            {
                try
                {
                    apis[p] = cx.Open(p);
                    offers.AddRange(await apis[p].ListOffersAsync(template.Query(), ct).ConfigureAwait(false));
                }
                catch (RgtException ex) { cx.Log($"{p}: no offers read ({ex.Message})"); }
            }
            var ranked = template.Query().Rank(offers);
            if (ranked.Count == 0)
                return Stop("NoCapacity", $"no offer matches {template} now; the next tick looks again", false);
            var affordable = policy.MaxSpend is { } max ? ranked.Where(o => spent + o.HourlyPrice * (decimal)hours <= max).ToList() : ranked;
            if (affordable.Count == 0)
            {
                var cheapest = ranked[0];
                return Stop("BudgetReached",
                    $"-MaxSpend {RecoverySpend.Money(policy.MaxSpend!.Value)} would be passed: spent {RecoverySpend.Money(spent)} so far, and the cheapest offer ({cheapest.Provider}/{cheapest.OfferId} at {cheapest.HourlyPrice} {cheapest.Currency}/h) for the {hours:0.##} h left ({how}) comes to {RecoverySpend.Money(spent + cheapest.HourlyPrice * (decimal)hours)}; nothing is rented",
                    true);
            }
            var n = entries.Count(e => e.Step == "renting") + 1;
            var names = cx.Inventory.Load().Select(h => h.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
            while (names.Contains($"{host.Name}-r{n}")) n++;
            var name = $"{host.Name}-r{n}";
            journal.Add(new JournalEntry(DateTimeOffset.UtcNow, "renting", Detail: string.Join("\n", unfinished.Select(c => c.Name)), Rental: name));
            var (identity, publicKey) = RentalProvisioner.KeyPair(host.IdentityFile, cx.Home);
            var request = new ProvisionRequest(name, publicKey, identity, template.Image ?? "", template.DiskGB, template.User ?? host.User, host.Tags.ToArray(),
                host.DataDir, host.DurableDir, host.Python, $"rented by the recovery of {host.Name}/{policy.QueueId}", template);
            ProvisionedRental made;
            try
            {
                made = await RentalProvisioner.ProvisionAsync(RentalProvisioner.Candidates(affordable, new HashSet<string>(), apis), request, cx.Launch,
                    cx.Inventory, cx.Catalog, cx.Connect, cx.Log, (_, _) => { }, ct).ConfigureAwait(false);
            }
            catch (RgtException ex) when (ex.ErrorId == "NoCapacity")
            {
                return Stop("NoCapacity", $"no offer like {template} could be started ({ex.Message}); the next tick looks again", false);
            }
            journal.Add(Rented(made.Host, $"{made.Offer.Provider}/{made.Offer.OfferId}"));
            return new RentResult(made.Host, unfinished.Select(c => c.Name).ToList(), "", null);
        }
        finally { foreach (var a in apis.Values) a.Dispose(); }
    }

    /// <summary>
    /// A tick killed between a create and the registration may have left an instance of the name it
    /// journalled: terminated here (it never ran anything), so the recovery goes on with one rental only.
    /// </summary>
    static async Task AbandonHalfMadeAsync(string name, RecoveryPolicy policy, GpuHost host, RecoveryJournal journal, RecoveryContext cx, CancellationToken ct)
    {
        foreach (var p in (policy.RecoverFrom ?? host.RentalTemplate)?.Providers ?? Array.Empty<string>())
        {
            using var api = cx.Open(p);
            foreach (var r in (await api.ListAsync(ct).ConfigureAwait(false)).Where(r => r.Name == name && r.State != nameof(RentalState.Terminated)))
            {
                if (await RentalLauncher.TerminateAsync(api, r.RentalId, cx.Log).ConfigureAwait(false) is { } orphan) throw orphan;
                journal.Add(new JournalEntry(DateTimeOffset.UtcNow, "abandoned", Detail: $"{p} rental {r.RentalId} named {name}, created by a tick that was killed before it registered it: terminated", Rental: name));
            }
        }
    }

    /// <summary>-Sync into the working directory, then -SetupScript there (read by bash from standard input, 30 minutes at most).</summary>
    static async Task SetUpAsync(GpuHost box, RecoveryPolicy policy, RecoveryJournal journal, HostConnector connector, CancellationToken ct)
    {
        var (shell, resolved, _) = await connector.OpenAsync(box, ct).ConfigureAwait(false);
        var wd = policy.Relaunch?.WorkingDirectory is { } w ? await connector.ResolvePathAsync(resolved, w, ct).ConfigureAwait(false) : QueueScripts.DataDir(resolved);
        foreach (var path in policy.Sync)
        {
            var files = UploadPlan.For(path, null, normalizeLineEndings: true);
            await FileSender.SendAllAsync(connector, resolved, files, wd, new TransferOptions(RetryCount: 3), ct).ConfigureAwait(false);
        }
        if (policy.SetupScript is { } script)
        {
            if (!File.Exists(script))
                throw new RgtException("SetupScriptNotFound", FailureKind.NotFound, $"the setup script {script} does not exist here any more");
            const int limit = 1800;
            var output = await shell.RunAsync(Probes.CommandRunner.Wrap($"mkdir -p {Text.ShellQuote.Quote(wd)} && cd {Text.ShellQuote.Quote(wd)} && bash -s", limit),
                TimeSpan.FromSeconds(limit + 10), ct, File.ReadAllText(script).Replace("\r\n", "\n")).ConfigureAwait(false);
            Probes.CommandRunner.ThrowIfStopped(output, box.Name, limit);
            if (output.ExitCode != 0)
            {
                var tail = string.Join("\n", (output.StdOut + output.StdErr).TrimEnd().Split('\n').TakeLast(5));
                throw new RgtException("SetupScriptFailed", FailureKind.OperationFailed, $"the setup script {Path.GetFileName(script)} ended with exit code {output.ExitCode}: {tail}");
            }
        }
        journal.Add(new JournalEntry(DateTimeOffset.UtcNow, "set-up", Detail: $"{policy.Sync.Count} path(s) synced to {wd}{(policy.SetupScript is null ? "" : ", " + Path.GetFileName(policy.SetupScript) + " ran")}", Rental: box.Name));
    }

    /// <summary>Each unfinished cell's mirrored artifacts into its checkpoint folder on the new box, verified by the box's SHA-256; a cell already pushed is skipped.</summary>
    static async Task PushAsync(GpuHost box, RecoveryPolicy policy, IReadOnlyList<string> unfinished, RecoveryJournal journal, HostConnector connector, CancellationToken ct)
    {
        var pushed = RecoveryJournal.Current(journal.Read()).Where(e => e.Step == "pushed").Select(e => e.Cell).ToHashSet();
        var cells = policy.Relaunch!.Plan(policy.QueueId).Owned.Where(c => unfinished.Contains(c.Name) && !pushed.Contains(c.Name)).ToList();
        if (cells.Count == 0) return;
        var (_, resolved, _) = await connector.OpenAsync(box, ct).ConfigureAwait(false);
        foreach (var c in cells)
        {
            var dir = policy.CellDirectory(c.Index, c.Name);
            var remote = QueueScripts.CheckpointDir(resolved, policy.QueueId, c.Name);
            var sent = new List<string>();
            foreach (var artifact in policy.Artifacts.Where(a => CheckpointMirror.Mirrored(Path.Combine(dir, a)) is not null))
            {
                var t = await FileSender.SendAllAsync(connector, resolved, UploadPlan.For(Path.Combine(dir, artifact), null, false), remote, new TransferOptions(RetryCount: 3), ct).ConfigureAwait(false);
                sent.AddRange(t.Select(x => $"{artifact} ({x.Sha256?[..12]})"));
            }
            journal.Add(new JournalEntry(DateTimeOffset.UtcNow, "pushed", c.Name, CheckpointMirror.LastEpoch(policy, c.Index, c.Name),
                sent.Count == 0 ? "nothing mirrored yet: it starts from scratch" : $"{string.Join(", ", sent)} to {remote}", Rental: box.Name));
        }
    }

    /// <summary>The queue's host name goes to the rented box; the taken rental keeps its entry as &lt;name&gt;-preempted-N.</summary>
    static GpuHost Move(GpuHost host, GpuHost box, string queueId, RecoveryJournal journal, RecoveryContext cx)
    {
        string kept = "";
        cx.Inventory.Update(list =>
        {
            var names = list.Select(h => h.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
            var n = 1;
            while (names.Contains($"{host.Name}-preempted-{n}")) n++;
            kept = $"{host.Name}-preempted-{n}";
            var old = list.FindIndex(h => h.Name == host.Name);
            if (old >= 0) list[old] = list[old] with { Name = kept, Notes = $"taken back by {host.Provider} while it ran queue {queueId}; the recovery moved the name {host.Name} to rental {box.RentalId}" };
            var added = list.FindIndex(h => h.Name == box.Name);
            list[added] = list[added] with { Name = host.Name };
            return list;
        });
        journal.Add(new JournalEntry(DateTimeOffset.UtcNow, "moved", Detail: $"{host.Name} is {box.Provider} rental {box.RentalId} now; the taken rental is {kept}", Rental: kept));
        return cx.Inventory.Load().First(h => h.Name == host.Name);
    }
}
