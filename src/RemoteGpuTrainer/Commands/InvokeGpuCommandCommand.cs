using System.Management.Automation;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Probes;
using RemoteGpuTrainer.Engine.Ssh;

namespace RemoteGpuTrainer.Commands;

/// <summary>Runs one bounded command on many hosts at once.</summary>
[Cmdlet(VerbsLifecycle.Invoke, "GpuCommand", DefaultParameterSetName = ByName)]
[OutputType(typeof(GpuCommandResult))]
public sealed class InvokeGpuCommandCommand : HostCmdlet
{
    /// <summary>The command, run by bash on the box; second position: Invoke-GpuCommand box 'nvidia-smi'.</summary>
    [Parameter(Mandatory = true, Position = 1)]
    [ValidateNotNullOrEmpty]
    public string Command { get; set; } = "";

    /// <summary>The command is stopped on the box after this many seconds (coreutils timeout) and reported as an error for that host.</summary>
    [Parameter]
    [ValidateRange(1, 86400)]
    public int TimeoutSeconds { get; set; } = 60;

    [Parameter]
    [ValidateRange(1, 300)]
    public int ConnectTimeoutSeconds { get; set; } = 15;

    protected override void EndProcessing()
    {
        using var connector = new HostConnector(new ConnectOptions(false, TimeSpan.FromSeconds(ConnectTimeoutSeconds)));
        FanOutHosts(async (host, ct) =>
        {
            var conn = await connector.ConnectAsync(host, ct).ConfigureAwait(false);
            return await CommandRunner.RunAsync(conn, host.Name, Command, TimeoutSeconds, ct).ConfigureAwait(false);
        }, "Running command on GPU hosts");
    }
}
