using System.Management.Automation;
using RemoteGpuTrainer.Engine;
using RemoteGpuTrainer.Engine.Checkpoints;
using RemoteGpuTrainer.Engine.Queues;
using RemoteGpuTrainer.Engine.Providers;
using RemoteGpuTrainer.Engine.Rentals;
using RemoteGpuTrainer.Engine.Ssh;
using RemoteGpuTrainer.Engine.Model;

namespace RemoteGpuTrainer.Commands;

/// <summary>The evidence-gated teardown: refuses until every cell on the host was pulled and verified and still matches the box.</summary>
[Cmdlet(VerbsCommon.Remove, "GpuRental", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High, DefaultParameterSetName = ByName)]
[OutputType(typeof(GpuTeardown))]
public sealed class RemoveGpuRentalCommand : HostCmdlet
{
    /// <summary>Stop (the reversible meter stop, where the platform has one: the default) or Release (destroy the instance).</summary>
    [Parameter]
    [ValidateSet("Stop", "Release")]
    public string Action { get; set; } = "Stop";

    /// <summary>Skip the confirmation prompt only; the evidence check still runs.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Skip the evidence check. Recorded in the ledger with the user and time.</summary>
    [Parameter]
    public SwitchParameter SkipVerification { get; set; }

    /// <summary>Also drop the host from the inventory.</summary>
    [Parameter]
    public SwitchParameter RemoveHost { get; set; }

    protected override void EndProcessing()
    {
        // A Slurm cluster is not a rental: there is no meter to stop, and its end of a run is Stop-GpuQueue.
        var hosts = new List<GpuHost>();
        foreach (var h in Hosts)
        {
            if (Catalog.Find(h.Platform)?.IsSlurm == true)
                WriteFailure(new RgtException("NotARental", FailureKind.InvalidArgument,
                    $"{h.Name} is a Slurm cluster (platform '{h.Platform}'), not a rental: there is no meter to stop and nothing to release. End its jobs with Stop-GpuQueue {h.Name}; pull and verify results (Receive-Checkpoint | Test-Checkpoint) before anyone deletes scratch; drop it from the inventory with Remove-GpuHost {h.Name}."), h.Name);
            else hosts.Add(h);
        }
        var ledger = new EvidenceLedger();
        var gates = new Dictionary<string, TeardownGate.GateResult>(StringComparer.OrdinalIgnoreCase);
        if (!SkipVerification)
        {
            // The evidence is gathered on every host at once; prompts and actions follow one host at a time.
            using var connector = NewConnector();
            var keeps = hosts.ToDictionary(h => h.Name, KeepOf, StringComparer.OrdinalIgnoreCase);
            foreach (var r in Fan(hosts, ThrottleLimit, async (host, ct) =>
            {
                var shell = await connector.OpenShellAsync(host, ct).ConfigureAwait(false);
                var resolved = await connector.ResolvePathsAsync(host, ct).ConfigureAwait(false);
                return await TeardownGate.CheckAsync(shell, resolved, keeps[host.Name], ledger, ct).ConfigureAwait(false);
            }))
            {
                if (r.Error is not null) { WriteFailure(r.Error, r.Item.Name); continue; }
                if (!r.Value!.Open) { WriteFailure(TeardownGate.Refusal(r.Item, r.Value), r.Item.Name); continue; }
                gates[r.Item.Name] = r.Value;
            }
        }
        foreach (var host in hosts)
        {
            if (!SkipVerification && !gates.ContainsKey(host.Name)) continue;
            try
            {
                var platform = Catalog.Find(host.Platform) ?? Catalog.Get("generic-ssh");
                var gate = gates.GetValueOrDefault(host.Name) ?? new TeardownGate.GateResult(0, 0, Array.Empty<string>(), "skipped");
                var cloud = CloudApi(host);
                // Never a silent terminate: where the provider has no stop, the release must be asked for.
                if (cloud is { CanStop: false } && Action != "Release")
                    throw new RgtException("StopUnsupported", FailureKind.InvalidArgument,
                        $"{host.Name}: {cloud.Name} has no stop — an instance bills until it is terminated, and its local disk goes with it. Pass -Action Release to terminate it (after the results are verified).");
                var (action, verb, irreversible) = cloud is { CanStop: true } && Action == "Stop" ? ("Stop", platform.MeterStopVerb ?? "stop", false) : TeardownGate.Choose(platform, Action);
                var description = TeardownGate.Describe(host, platform, action);
                var whatIf = MyInvocation.BoundParameters.ContainsKey("WhatIf");
                var proceed = Force && !whatIf ? true : ShouldProcess(description, description + " Continue?", $"Tear down {host.Name}: {verb}");
                if (!proceed) continue;
                if (SkipVerification)
                {
                    ledger.Append(new[] { new LedgerEntry(DateTimeOffset.Now, host.Name, null, null, "", null, "SkipVerification", null, $"Remove-GpuRental -SkipVerification ({action})", Environment.UserName) });
                    WriteWarning($"{host.Name}: the evidence check was skipped (-SkipVerification); recorded in {ledger.FilePath}.");
                }
                string instructions, status;
                string? providerState = null;
                if (cloud is not null)
                {
                    var done = CloudTeardown.RunAsync(cloud, host, action, TimeSpan.FromMinutes(5), TimeSpan.FromSeconds(2), Cancellation).GetAwaiter().GetResult();
                    (status, providerState, instructions) = (done.Status, done.ProviderState, done.Text + (action == "Stop" && platform.StopKeepsBilling is { } billed ? $" Still billed while stopped: {billed}." : ""));
                    // A released address goes to someone else's machine next: its key is no evidence for anything any more.
                    if (status == "Terminated" && new Engine.Ssh.KnownHosts(Engine.Ssh.SshTarget.Resolve(host).KnownHostsFiles).Forget(host.HostName, host.Port ?? 22) > 0)
                        WriteVerbose($"{host.Name}: forgot the host key of {host.HostName}:{host.Port ?? 22}, which the provider will hand to another machine.");
                }
                else
                {
                    IRentalProvider provider = new ManualRentalProvider(platform);
                    instructions = (action == "Stop" ? provider.StopAsync(host, Cancellation) : provider.ReleaseAsync(host, Cancellation)).GetAwaiter().GetResult();
                    WriteWarning($"{host.Name} is an SSH rental without an API: {instructions}");
                    status = "ActionRequired";
                }
                bool removed = false;
                if (RemoveHost)
                {
                    Inventory.Update(list => { list.RemoveAll(h => string.Equals(h.Name, host.Name, StringComparison.OrdinalIgnoreCase)); return list; });
                    removed = true;
                }
                WriteObject(new GpuTeardown
                {
                    Name = host.Name, Platform = platform.Name, Action = action, Verb = verb, Irreversible = irreversible,
                    Verified = !SkipVerification, CellsVerified = gate.Verified, CellsTotal = gate.Total,
                    Status = status, ProviderState = providerState, Instructions = instructions, HostRemoved = removed,
                });
            }
            catch (Exception ex) when (ex is RgtException or OperationCanceledException) { WriteFailure(ex, host.Name); }
        }
        foreach (var api in _apis) api.Dispose();
    }

    readonly List<ICloudProvider> _apis = new();

    /// <summary>The provider's API for a host created through it (Provider and RentalId set), else null: an SSH rental.</summary>
    ICloudProvider? CloudApi(Engine.Model.GpuHost host)
    {
        if (!CloudProviders.Manages(host)) return null;
        var api = CloudProviders.Connect(host.Provider!, null, VerboseLog, Catalog);
        _apis.Add(api);
        return api;
    }

    string KeepOf(Engine.Model.GpuHost host) => GpuPlatformDefaults.From(Catalog.Find(host.Platform) ?? Catalog.Get("generic-ssh")).Keep;
}
