using RemoteGpuTrainer.Engine.Model;
using System.Management.Automation;
using RemoteGpuTrainer.Engine.Planning;
using RemoteGpuTrainer.Engine.Ssh;

namespace RemoteGpuTrainer.Commands;

/// <summary>Whether N cells of checkpoints fit on each host's data and durable mounts, in bytes and in inodes.</summary>
[Cmdlet(VerbsCommon.Get, "GpuDiskBudget", DefaultParameterSetName = AllHosts)]
[OutputType(typeof(GpuDiskBudget))]
public sealed class GetGpuDiskBudgetCommand : HostCmdlet
{
    [Parameter(Mandatory = true)]
    [ValidateRange(0, long.MaxValue)]
    public long CheckpointSize { get; set; }

    [Parameter(Mandatory = true)]
    [ValidateRange(1, int.MaxValue)]
    public int Cells { get; set; }

    /// <summary>Extra bytes per cell on the data disk only (latest.pth, caches) while it runs.</summary>
    [Parameter]
    [ValidateRange(0, long.MaxValue)]
    public long ScratchBytes { get; set; }

    /// <summary>Files each cell leaves behind (best.pth, metrics, log).</summary>
    [Parameter]
    [ValidateRange(0, 1000000)]
    public int FilesPerCell { get; set; } = 3;

    protected override void EndProcessing()
    {
        using var connector = NewConnector();
        FanOut(async (h, ct) =>
        {
            var (shell, host, _) = await connector.OpenAsync(h, ct).ConfigureAwait(false);
            var output = await shell.RunAsync(DiskBudgetPlanner.Script(host), TimeSpan.FromSeconds(60), ct).ConfigureAwait(false);
            return DiskBudgetPlanner.Parse(host, output.StdOut, CheckpointSize, Cells, ScratchBytes, FilesPerCell).ToList();
        }, "Checking disk budgets");
    }
}
