using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Parsing;
using RemoteGpuTrainer.Engine.Text;

namespace RemoteGpuTrainer.Engine.Planning;

public static class DiskBudgetPlanner
{
    public static string Script(GpuHost host) =>
        Scripts.BoxScript.Load("disks").Set("DATA_DIR", host.DataDir).Set("DURABLE_DIR", host.DurableDir).Command;

    /// <summary>Data needs checkpoint + scratch bytes and FilesPerCell + 1 inodes per cell; durable needs the checkpoint and FilesPerCell inodes.</summary>
    public static IEnumerable<GpuDiskBudget> Parse(GpuHost host, string output, long checkpointSize, int cells, long scratchBytes, int filesPerCell)
    {
        var s = ProbeSections.Parse(output);
        foreach (var (role, dir) in new[] { ("data", host.DataDir), ("durable", host.DurableDir) })
        {
            if (string.IsNullOrEmpty(dir)) continue;
            var perCellBytes = checkpointSize + (role == "data" ? scratchBytes : 0);
            var perCellInodes = (long)filesPerCell + (role == "data" && scratchBytes > 0 ? 1 : 0);
            if (s.ExitCode("df-" + role) != 0)
            {
                yield return new GpuDiskBudget { Name = host.Name, Role = role, Path = dir!, NeededBytes = perCellBytes * cells, NeededInodes = perCellInodes * cells, RunsOutFirst = "missing" };
                continue;
            }
            var text = s["df-" + role];
            var (bytes, inodes) = DfParser.BytesAndInodes(text);
            long? fitBytes = bytes is null ? null : perCellBytes > 0 ? bytes.Available / perCellBytes : long.MaxValue;
            // file systems without inode limits (btrfs, some overlays) report 0 inodes: not a constraint
            long? fitInodes = inodes is null ? null : inodes.Total == 0 || perCellInodes == 0 ? long.MaxValue : inodes.Available / perCellInodes;
            var first = fitBytes is null || fitInodes is null ? "unknown"
                : Math.Min(fitBytes.Value, fitInodes.Value) >= cells ? "none" : fitInodes < fitBytes ? "inodes" : "bytes";
            yield return new GpuDiskBudget
            {
                Name = host.Name, Role = role, Path = dir!, MountedOn = bytes?.MountedOn, FreeBytes = bytes?.Available, NeededBytes = perCellBytes * cells,
                FreeInodes = inodes?.Available, NeededInodes = perCellInodes * cells, CellsFitBytes = fitBytes, CellsFitInodes = fitInodes,
                RunsOutFirst = first, Enough = first == "none",
            };
        }
    }
}
