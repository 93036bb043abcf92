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
            foreach (var r in FanOut(hosts, ThrottleLimit, async (host, ct) =>
            {
                var (shell, resolved, _) = await connector.OpenAsync(host, ct).ConfigureAwait(false);
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
                var cloud = CloudApi(host);
                var plan = TeardownRun.Plan(host, Catalog.Find(host.Platform) ?? Catalog.Get("generic-ssh"), cloud, Action);
                var whatIf = MyInvocation.BoundParameters.ContainsKey("WhatIf");
                if (!(Force && !whatIf) && !ShouldProcess(plan.Description, plan.Description + " Continue?", $"Tear down {host.Name}: {plan.Verb}")) continue;
                var (result, warnings, notes) = TeardownRun.ExecuteAsync(plan, cloud, SkipVerification ? null : gates[host.Name], ledger, Inventory, RemoveHost, Cancellation).GetAwaiter().GetResult();
                foreach (var w in warnings) WriteWarning(w);
                foreach (var n in notes) WriteVerbose(n);
                WriteObject(result);
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
