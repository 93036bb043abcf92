using System.Management.Automation;
using RemoteGpuTrainer.Engine;
using RemoteGpuTrainer.Engine.Checkpoints;
using RemoteGpuTrainer.Engine.Queues;
using RemoteGpuTrainer.Engine.Rentals;
using RemoteGpuTrainer.Engine.Ssh;

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
        var ledger = new EvidenceLedger();
        foreach (var host in Hosts)
        {
            try
            {
                var platform = Catalog.Find(host.Platform) ?? Catalog.Get("generic-ssh");
                var keep = GpuPlatformDefaults.From(platform).Keep;
                TeardownGate.GateResult gate;
                if (SkipVerification) gate = new TeardownGate.GateResult(0, 0, Array.Empty<string>());
                else
                {
                    using var connector = new HostConnector();
                    var shell = connector.OpenShellAsync(host, Cancellation).GetAwaiter().GetResult();
                    var output = shell.RunAsync(TeardownGate.Script(host, keep), TimeSpan.FromMinutes(30), Cancellation).GetAwaiter().GetResult();
                    gate = TeardownGate.Check(host, output.StdOut, ledger.Read(), keep);
                    if (gate.Missing.Count > 0)
                    {
                        WriteFailure(new RgtException("TeardownNotVerified", FailureKind.SecurityError,
                            $"{host.Name}: refusing to tear down: {gate.Verified} of {gate.Total} cells verified. " + string.Join("; ", gate.Missing) +
                            ". Pull and verify them (Get-GpuJob | Receive-Checkpoint | Test-Checkpoint), or pass -SkipVerification to accept the loss."), host.Name);
                        continue;
                    }
                }
                var (action, verb, irreversible) = TeardownGate.Choose(platform, Action);
                var description = TeardownGate.Describe(host, platform, action);
                var whatIf = MyInvocation.BoundParameters.ContainsKey("WhatIf");
                var proceed = Force && !whatIf ? true : ShouldProcess(description, description + " Continue?", $"Tear down {host.Name}: {verb}");
                if (!proceed) continue;
                if (SkipVerification)
                {
                    ledger.Append(new[] { new LedgerEntry(DateTimeOffset.Now, host.Name, null, null, "", null, "SkipVerification", null, $"Remove-GpuRental -SkipVerification ({action})", Environment.UserName) });
                    WriteWarning($"{host.Name}: the evidence check was skipped (-SkipVerification); recorded in {ledger.FilePath}.");
                }
                IRentalProvider provider = new ManualRentalProvider(platform);
                var instructions = (action == "Stop" ? provider.StopAsync(host, Cancellation) : provider.ReleaseAsync(host, Cancellation)).GetAwaiter().GetResult();
                if (!provider.CanAct) WriteWarning($"{host.Name} is an SSH rental without an API: {instructions}");
                bool removed = false;
                if (RemoveHost)
                {
                    Inventory.Update(hosts => { hosts.RemoveAll(h => string.Equals(h.Name, host.Name, StringComparison.OrdinalIgnoreCase)); return hosts; });
                    removed = true;
                }
                WriteObject(new GpuTeardown
                {
                    Name = host.Name, Platform = platform.Name, Action = action, Verb = verb, Irreversible = irreversible,
                    Verified = !SkipVerification, CellsVerified = gate.Verified, CellsTotal = gate.Total,
                    Status = provider.CanAct ? "Done" : "ActionRequired", Instructions = instructions, HostRemoved = removed,
                });
            }
            catch (Exception ex) when (ex is RgtException or OperationCanceledException) { WriteFailure(ex, host.Name); }
        }
    }
}
