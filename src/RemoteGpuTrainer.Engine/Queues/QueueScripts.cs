using System.Globalization;
using System.Text;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Scripts;
using RemoteGpuTrainer.Engine.Text;

namespace RemoteGpuTrainer.Engine.Queues;

/// <summary>The shell scripts that launch, read and stop queues on a box. All paths and names are quoted.</summary>
public static class QueueScripts
{
    public static string QueuesRoot(GpuHost host) => Combine(DataDir(host), ".rgt/queues");

    public static string QueueDir(GpuHost host, string queueId) => Combine(QueuesRoot(host), queueId);

    public static string CheckpointDir(GpuHost host, string queueId, string cell) => Combine(DataDir(host), $"checkpoints/{queueId}/{cell}");

    public static string? DurableCellDir(GpuHost host, string cell) => string.IsNullOrEmpty(host.DurableDir) ? null : Combine(host.DurableDir!, $"final_ckpts/{cell}");

    internal static string DataDir(GpuHost host) => string.IsNullOrEmpty(host.DataDir)
        ? throw new RgtException("DataDirMissing", FailureKind.InvalidArgument, $"{host.Name} has no DataDir; set one, e.g. Set-GpuHost {host.Name} -DataDir '$HOME/proj' (resolved on the box).")
        : host.DataDir!;

    internal static string Combine(string a, string b) => a.TrimEnd('/') + "/" + b;

    /// <summary>
    /// The tmux session of a queue: "rgt-" and the id with letters, digits and '-' kept, '_' doubled
    /// and every other byte as "_xx" (hex), so two queue ids never share a session ("lr.1" is
    /// rgt-lr_2e1, "lr_1" is rgt-lr__1) and tmux's own '.'/':' rules never apply.
    /// </summary>
    public static string SessionName(string queueId)
    {
        var sb = new StringBuilder("rgt-");
        foreach (var b in Encoding.UTF8.GetBytes(queueId))
        {
            var c = (char)b;
            if (b < 128 && (char.IsAsciiLetterOrDigit(c) || c == '-')) sb.Append(c);
            else if (c == '_') sb.Append("__");
            else sb.Append('_').Append(b.ToString("x2", CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }

    /// <summary>Reads every queue under the host's data dir (or one), with per-cell markers and log tails, read-only.</summary>
    public static string State(GpuHost host, string? queueId, int tailLines = 30) => StateScript(BoxScript.Load("queue-state"), host, queueId, tailLines).Command;

    /// <summary>Sets queue-state.sh's parameters on a script that includes it.</summary>
    public static BoxScript StateScript(BoxScript script, GpuHost host, string? queueId, int tailLines) =>
        script.Set("QUEUES_ROOT", string.IsNullOrEmpty(host.DataDir) ? "" : QueuesRoot(host)).Set("QUEUE_ID", queueId).Set("TAIL_LINES", tailLines);

    /// <summary>Writes the frozen queue, the ownership list and a new versioned launcher, then starts it detached (queue-start.sh).</summary>
    public static string Start(GpuHost host, GpuPlatformDefaults platform, LaunchPlan plan)
    {
        var script = BoxScript.Load("queue-start")
            .Set("Q", QueueDir(host, plan.QueueId))
            .Set("SESSION", SessionName(plan.QueueId))
            .Set("DETACH", plan.Detach)
            .Set("LAUNCHER", Launcher(host, platform, plan).TrimEnd('\n'))
            .Set("QUEUE_TEXT", QueueFile.Freeze(plan.AllCells).TrimEnd('\n'))
            .Set("ASSIGNED", string.Join('\n', plan.Owned.Select(c => c.Name)));
        if (plan.IsSlurm)
            script.Set("CELLS", string.Join('\n', Launched(plan).Select(c => c.Name)))
                .Set("SBATCH", string.Join('\n', (plan.Slurm ?? new SlurmOptions(null, null, null, null, Array.Empty<string>(), false)).Arguments(platform.SbatchOptions)))
                .Set("JOB_NAME", JobName(plan.QueueId))
                .Set("ARRAY", plan.Slurm?.Array == true ? "1" : "0");
        return script.Command;
    }

    /// <summary>
    /// A queue's Slurm job name: the session name (letters, digits, '-' and '_' only); a cell's job
    /// adds "." and the cell's name, so the first '.' tells queue from cell and no two collide.
    /// </summary>
    public static string JobName(string queueId) => SessionName(queueId);

    static IEnumerable<QueueCell> Launched(LaunchPlan plan) => plan.Submit ?? plan.Owned.Where(c => c.Index >= plan.StartAt);

    /// <summary>The launcher file's text: queue-launcher.sh (or under Slurm the batch job, slurm-job.sh) with this queue's values and cells.</summary>
    static string Launcher(GpuHost host, GpuPlatformDefaults platform, LaunchPlan plan)
    {
        var force = plan.StartAt > 1 ? "1" : "0";
        var cells = Launched(plan).SelectMany(c => new[] { c.Index.ToString(CultureInfo.InvariantCulture), c.Name, c.Command, force });
        return BoxScript.Load(plan.IsSlurm ? "slurm-job" : "queue-launcher")
                .Set("Q", QueueDir(host, plan.QueueId)).Set("DATA_DIR", host.DataDir).Set("DURABLE_DIR", host.DurableDir).Set("QUEUE_ID", plan.QueueId)
                .Set("KEEP", platform.Keep).Set("SCRATCH", platform.Scratch).Set("CRED", host.CredFile)
                .Set("WORKDIR", plan.WorkingDirectory ?? host.DataDir).Set("PROXY_HOOK", host.ProxyHook)
                .Arguments(cells).Text;
    }

    /// <summary>Stops the detach session and the launcher's process group; marks running cells Failed (143).</summary>
    public static string Stop(GpuHost host, string queueId) => BoxScript.Load("queue-stop").Set("Q", QueueDir(host, queueId)).Command;

    /// <summary>Second call after a stop: is anything of the queue still alive?</summary>
    public static string VerifyStopped(GpuHost host, string queueId) => BoxScript.Load("queue-stop").Set("Q", QueueDir(host, queueId)).Set("MODE_STEP", "left").Command;
}

/// <summary>The platform values a launcher needs: what to keep, what scratch to prune, and under Slurm the platform's sbatch options.</summary>
public sealed record GpuPlatformDefaults(string Keep, string Scratch)
{
    public IReadOnlyList<string> SbatchOptions { get; init; } = Array.Empty<string>();

    public static GpuPlatformDefaults From(GpuPlatform? p) => new(
        string.IsNullOrEmpty(p?.Keep) ? "best.pth" : p!.Keep!,
        string.IsNullOrEmpty(p?.Scratch) ? "latest.pth" : p!.Scratch!)
    { SbatchOptions = p?.SbatchOptions ?? Array.Empty<string>() };
}
