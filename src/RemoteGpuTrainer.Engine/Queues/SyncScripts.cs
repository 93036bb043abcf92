using RemoteGpuTrainer.Engine.Model;

namespace RemoteGpuTrainer.Engine.Queues;

/// <summary>
/// The on-box safety net (aggregate to durable storage): for every finished cell, copy the keepable
/// artifact, metrics and log to DurableDir/final_ckpts/&lt;cell&gt;, each verified by SHA-256 (the launcher's own copy routine), and say per cell
/// Copied, Skipped (no metrics) or Failed, with df bytes and inodes of the durable disk on failure.
/// </summary>
public static class SyncScripts
{
    public static string Sync(GpuHost host, GpuPlatformDefaults defaults, string? queueId)
    {
        if (string.IsNullOrEmpty(host.DurableDir))
            throw new RgtException("DurableDirMissing", FailureKind.InvalidArgument, $"{host.Name} has no DurableDir; set one, e.g. Set-GpuHost {host.Name} -DurableDir '$HOME/proj' (resolved on the box).");
        return Scripts.BoxScript.Load("queue-sync")
            .Set("QUEUES_ROOT", QueueScripts.QueuesRoot(host)).Set("QUEUE_ID", queueId)
            .Set("DATA_DIR", host.DataDir).Set("DURABLE_DIR", host.DurableDir).Set("KEEP", defaults.Keep).Command;
    }

    public static IEnumerable<GpuTransfer> Parse(GpuHost host, string output, TimeSpan duration)
    {
        var sections = Parsing.ProbeSections.Parse(output);
        if (sections.ExitCode("sync") != 0)
            throw new RgtException("SyncFailed", FailureKind.OperationFailed, $"{host.Name}: the sync script did not finish (status {sections.ExitCode("sync")?.ToString() ?? "none"}): {sections["sync"].Trim()}");
        foreach (var line in sections["sync"].Split('\n'))
        {
            var f = ("RGT_SYNC\t" + line).Split('\t');
            var status = f.Length == 6 ? f[1] switch { "COPIED" => "Copied", "SKIPPED" => "Skipped", "FAILED" => "Failed", _ => null } : null;
            if (status is null) continue;
            var cell = f[5];
            yield return new GpuTransfer
            {
                Name = host.Name, Cell = cell, Status = status, Length = long.TryParse(f[2], out var n) ? n : null,
                RemotePath = QueueScripts.CheckpointDir(host, f[4], cell),
                LocalPath = QueueScripts.DurableCellDir(host, cell) ?? "",
                Reason = status == "Copied" ? null : f[3],
                Duration = duration,
            };
        }
    }
}
