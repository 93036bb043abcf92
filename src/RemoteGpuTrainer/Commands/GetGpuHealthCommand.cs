using System.Management.Automation;
using RemoteGpuTrainer.Engine;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Probes;
using RemoteGpuTrainer.Engine.Ssh;

namespace RemoteGpuTrainer.Commands;

/// <summary>
/// Checks GPUs, Xids, throttling, ECC, disks, memory and VRAM zombies in one round trip per host. On a
/// Slurm login node: partitions and nodes from sinfo, or with -Node/-Partition the GPU probe on a compute node.
/// </summary>
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
    [Duration]
    public TimeSpan ZombieMinimumAge { get; set; } = HealthProbe.DefaultZombieAge;

    [Parameter]
    [ValidateRange(1, 300)]
    public int ConnectTimeoutSeconds { get; set; } = 15;

    /// <summary>Slurm: run the GPU probe on this compute node, as a one-GPU job step (srun).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Node { get; set; }

    /// <summary>Slurm: run the GPU probe on a node of this partition.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Partition { get; set; }

    /// <summary>Slurm: how long the probe job may wait for a GPU before it is reported as pending (default 30 s).</summary>
    [Parameter]
    [Duration]
    public TimeSpan ProbeWait { get; set; } = TimeSpan.FromSeconds(30);

    protected override void EndProcessing()
    {
        var options = new HealthOptions(SampleSeconds, ExpectedGpuCount, ZombieMinimumAge);
        using var connector = NewConnector(new ConnectOptions(false, TimeSpan.FromSeconds(ConnectTimeoutSeconds)));
        var onNode = Node is not null || Partition is not null;
        FanOut(async (h, ct) =>
        {
            var slurm = Catalog.Find(h.Platform)?.IsSlurm == true;
            if (onNode && !slurm)
                throw new RgtException("NotSlurm", FailureKind.InvalidArgument, $"{h.Name}: -Node and -Partition pick a compute node of a Slurm cluster, and this host's platform is '{h.Platform}'; register the login node with -Platform slurm.");
            var (shell, host, _) = await connector.OpenAsync(h, ct).ConfigureAwait(false);
            if (slurm && onNode)
            {
                var probe = await shell.RunAsync(SlurmHealth.NodeScript(host, options, Node, Partition, ProbeWait), TimeSpan.FromSeconds(120) + ProbeWait + TimeSpan.FromSeconds(SampleSeconds), ct).ConfigureAwait(false);
                return SlurmHealth.ParseNode(host, probe.StdOut, options, ProbeWait, DateTimeOffset.Now);
            }
            if (slurm)
                return SlurmHealth.Parse(host, (await shell.RunAsync(SlurmHealth.Script(host), TimeSpan.FromSeconds(90), ct).ConfigureAwait(false)).StdOut, DateTimeOffset.Now);
            var output = await shell.RunAsync(HealthProbe.Script(host, options), TimeSpan.FromSeconds(60 + SampleSeconds), ct).ConfigureAwait(false);
            return HealthProbe.Parse(host, output.StdOut, options, DateTimeOffset.Now);
        }, "Checking GPU health");
    }
}
