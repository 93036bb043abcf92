using RemoteGpuTrainer.Engine.Checkpoints;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Providers;

namespace RemoteGpuTrainer.Engine.Rentals;

/// <summary>What a teardown will do to one host, decided before anyone is asked: the action, the platform's verb, whether it is irreversible, and the text a confirmation shows.</summary>
public sealed record TeardownPlan(GpuHost Host, GpuPlatform Platform, string Action, string Verb, bool Irreversible, string Description);

/// <summary>
/// Remove-GpuRental after its gate (<see cref="TeardownGate"/>): <see cref="Plan"/> chooses the action
/// (the reversible stop where there is one; never a silent terminate where the provider has none), and
/// <see cref="ExecuteAsync"/> carries it out — through the provider's API for a cloud rental (then polls
/// until the provider reports it, and forgets a released address's host key), else the console steps
/// for the user — records a skipped verification in the ledger, and drops the host when asked.
/// </summary>
public static class TeardownRun
{
    public sealed record Outcome(string Status, string ProviderState, string Text);

    public static TeardownPlan Plan(GpuHost host, GpuPlatform platform, ICloudProvider? cloud, string requested)
    {
        if (cloud is { CanStop: false } && requested != "Release")
            throw new RgtException("StopUnsupported", FailureKind.InvalidArgument,
                $"{host.Name}: {cloud.Name} has no stop — an instance bills until it is terminated, and its local disk goes with it. Pass -Action Release to terminate it (after the results are verified).");
        var (action, verb, irreversible) = cloud is { CanStop: true } && requested == "Stop" ? ("Stop", platform.MeterStopVerb ?? "stop", false) : TeardownGate.Choose(platform, requested);
        return new TeardownPlan(host, platform, action, verb, irreversible, TeardownGate.Describe(host, platform, action));
    }

    /// <param name="gate">The gate that opened (null with -SkipVerification, which is then recorded in the ledger).</param>
    public static async Task<(GpuTeardown Result, IReadOnlyList<string> Warnings, IReadOnlyList<string> Notes)> ExecuteAsync(
        TeardownPlan plan, ICloudProvider? cloud, TeardownGate.GateResult? gate, EvidenceLedger ledger, Hosts.HostInventory inventory, bool removeHost, CancellationToken ct)
    {
        var (host, platform, action) = (plan.Host, plan.Platform, plan.Action);
        var warnings = new List<string>();
        var notes = new List<string>();
        if (gate is null)
        {
            ledger.Append(new[] { new LedgerEntry(DateTimeOffset.Now, host.Name, null, null, "", null, "SkipVerification", null, $"Remove-GpuRental -SkipVerification ({action})", Environment.UserName) });
            warnings.Add($"{host.Name}: the evidence check was skipped (-SkipVerification); recorded in {ledger.FilePath}.");
        }
        string instructions, status;
        string? providerState = null;
        if (cloud is not null)
        {
            var done = await RunAsync(cloud, host, action, TimeSpan.FromMinutes(5), TimeSpan.FromSeconds(2), ct).ConfigureAwait(false);
            (status, providerState, instructions) = (done.Status, done.ProviderState, done.Text + (action == "Stop" && platform.StopKeepsBilling is { } billed ? $" Still billed while stopped: {billed}." : ""));
            // A released address goes to someone else's machine next: its key is no evidence for anything any more.
            if (status == nameof(RentalState.Terminated) && new Ssh.KnownHosts(Ssh.SshTarget.Resolve(host).KnownHostsFiles).Forget(host.HostName, host.Port ?? 22) > 0)
                notes.Add($"{host.Name}: forgot the host key of {host.HostName}:{host.Port ?? 22}, which the provider will hand to another machine.");
        }
        else
        {
            instructions = TeardownGate.Instructions(host, platform, action);
            warnings.Add($"{host.Name} is an SSH rental without an API: {instructions}");
            status = "ActionRequired";
        }
        if (removeHost) inventory.Update(list => { list.RemoveAll(h => string.Equals(h.Name, host.Name, StringComparison.OrdinalIgnoreCase)); return list; });
        var result = new GpuTeardown
        {
            Name = host.Name, Platform = platform.Name, Action = action, Verb = plan.Verb, Irreversible = plan.Irreversible,
            Verified = gate is not null, CellsVerified = gate?.Verified ?? 0, CellsTotal = gate?.Total ?? 0,
            Status = status, ProviderState = providerState, Instructions = instructions, HostRemoved = removeHost,
        };
        return (result, warnings, notes);
    }

    /// <summary>
    /// Stops or terminates a registered cloud rental through its provider's API, then polls until the
    /// provider reports that state (or no longer knows the rental, after a terminate).
    /// </summary>
    public static async Task<Outcome> RunAsync(ICloudProvider api, GpuHost host, string action, TimeSpan timeout, TimeSpan poll, CancellationToken ct)
    {
        var id = host.RentalId ?? throw new RgtException("RentalNotFound", FailureKind.NotFound, $"{host.Name} has no RentalId: it was not created through {api.Name}'s API.");
        if (action == "Stop") await api.StopAsync(id, ct).ConfigureAwait(false);
        else await api.TerminateAsync(id, ct).ConfigureAwait(false);
        var target = action == "Stop" ? nameof(RentalState.Stopped) : nameof(RentalState.Terminated);
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            GpuRental now;
            try { now = await api.GetAsync(id, ct).ConfigureAwait(false); }
            catch (RgtException ex) when (ex.ErrorId == "RentalNotFound" && action == "Release")
            {
                return new Outcome(nameof(RentalState.Terminated), "gone", $"{api.Name} rental {id} is terminated (the provider no longer lists it).");
            }
            if (now.State == target || (action == "Stop" && now.State is nameof(RentalState.Terminated) or nameof(RentalState.Preempted)))
                return new Outcome(now.State, now.ProviderState ?? now.State, $"{api.Name} rental {id} is {now.ProviderState ?? now.State}.");
            if (DateTime.UtcNow + poll > deadline)
                throw new RgtException("TeardownUnconfirmed", FailureKind.Timeout,
                    $"{api.Name} accepted the {action.ToLowerInvariant()} of rental {id}, but after {Format.Duration(timeout)} it still reports {now.ProviderState}: check the console ({CloudProviders.Console(api.Name)}); it may still bill.");
            await Task.Delay(poll, ct).ConfigureAwait(false);
        }
    }
}
