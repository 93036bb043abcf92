using System.Management.Automation;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Probes;
using RemoteGpuTrainer.Engine.Ssh;

namespace RemoteGpuTrainer.Commands;

/// <summary>Checks GPUs, Xids, throttling, ECC, disks, memory and VRAM zombies in one round trip per host.</summary>
[Cmdlet(VerbsCommon.Get, "GpuHealth", DefaultParameterSetName = AllHosts)]
[OutputType(typeof(GpuHealth))]
public sealed class GetGpuHealthCommand : HostCmdlet
{
    /// <summary>Sample nvidia-smi once a second for this many seconds and report mean SM clock, power and utilization; 0 is a point read.</summary>
    [Parameter]
    [ValidateRange(0, 300)]
    public int SampleSeconds { get; set; }

    /// <summary>FAIL when nvidia-smi lists a different number of GPUs.</summary>
    [Parameter]
    [ValidateRange(0, 1024)]
    public int? ExpectedGpuCount { get; set; }

    /// <summary>A VRAM holder younger than this is not reported as a zombie (default 120 s).</summary>
    [Parameter]
    public TimeSpan ZombieMinimumAge { get; set; } = HealthProbe.DefaultZombieAge;

    [Parameter]
    [ValidateRange(1, 300)]
    public int ConnectTimeoutSeconds { get; set; } = 15;

    protected override void EndProcessing()
    {
        var options = new HealthOptions(SampleSeconds, ExpectedGpuCount, ZombieMinimumAge);
        using var connector = NewConnector(new ConnectOptions(false, TimeSpan.FromSeconds(ConnectTimeoutSeconds)));
        FanOutHosts(async (h, ct) =>
        {
            var (shell, host) = await connector.OpenResolvedAsync(h, ct).ConfigureAwait(false);
            var output = await shell.RunAsync(HealthProbe.Script(host, options), TimeSpan.FromSeconds(60 + SampleSeconds), ct).ConfigureAwait(false);
            return HealthProbe.Parse(host, output.StdOut, options, DateTimeOffset.Now);
        }, "Checking GPU health");
    }
}
