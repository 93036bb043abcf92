using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Ssh;

namespace RemoteGpuTrainer.Engine.Queues;

/// <summary>Launch, read and stop queues on one host through one shell (one connection).</summary>
public static class QueueService
{
    static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    public static async Task<IReadOnlyList<QueueState>> ReadAsync(IHostShell shell, GpuHost host, string? queueId, CancellationToken ct)
    {
        var output = await shell.RunAsync(QueueScripts.State(host, queueId), Bound, ct).ConfigureAwait(false);
        return QueueStateParser.Parse(output.StdOut);
    }

    public static async Task<GpuQueue> StartAsync(IHostShell shell, GpuHost host, GpuPlatformDefaults defaults, LaunchPlan plan, int? explicitStartAt, CancellationToken ct)
    {
        var existing = (await ReadAsync(shell, host, plan.QueueId, ct).ConfigureAwait(false)).FirstOrDefault();
        var startAt = explicitStartAt ?? 1;
        if (existing is not null)
        {
            if (existing.LauncherAlive)
                throw new RgtException("QueueAlreadyRunning", FailureKind.ResourceBusy,
                    $"{host.Name}: queue '{plan.QueueId}' is already running (launcher pid {existing.Meta.GetValueOrDefault("launcher.pid")?.Trim()}); a second launch would run cells twice. Watch it with Get-GpuJob, or stop it with Stop-GpuQueue.");
            var diff = QueueFile.CompareWithFrozen(existing.Cells, plan.AllCells);
            if (diff is not null)
                throw new RgtException("QueueEdited", FailureKind.InvalidData,
                    $"{host.Name}: queue '{plan.QueueId}' was launched before with different earlier lines: {diff}. Append new lines only, or use another -QueueId.");
            if (explicitStartAt is null)
            {
                var unfinished = plan.Owned.FirstOrDefault(c => existing.CellMarkers.GetValueOrDefault(c.Name)?.Values.GetValueOrDefault("state") != "Succeeded");
                if (unfinished is null)
                    return Result(host, plan, "AlreadyDone", existing.Meta.GetValueOrDefault("session")?.Trim(), null, null, plan.Owned.Count + 1);
                startAt = 1; // the launcher skips succeeded cells itself; resume begins at the first unfinished one
            }
        }
        var effective = plan with { StartAt = startAt };
        var output = await shell.RunAsync(QueueScripts.Start(host, defaults, effective), Bound, ct).ConfigureAwait(false);
        var line = output.StdOut.Split('\n').Select(l => l.Trim()).LastOrDefault(l => l.StartsWith("RGT_", StringComparison.Ordinal)) ?? "";
        if (line.StartsWith("RGT_RUNNING", StringComparison.Ordinal))
            throw new RgtException("QueueAlreadyRunning", FailureKind.ResourceBusy, $"{host.Name}: queue '{plan.QueueId}' is already running ({line}).");
        if (line == "RGT_NO_TMUX")
            throw new RgtException("TmuxMissing", FailureKind.OperationFailed, $"{host.Name}: -Detach Tmux was asked for but tmux is not installed; use -Detach Auto or Nohup, or install tmux.");
        var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length < 3 || parts[0] != "RGT_STARTED" || !int.TryParse(parts[2], out var pid))
            throw new RgtException("QueueStartFailed", FailureKind.OperationFailed,
                $"{host.Name}: the launcher did not report that it started: {(output.StdErr + output.StdOut).Trim()}");
        var launcher = QueueScripts.QueueDir(host, plan.QueueId) + $"/launcher-{parts[1]}.sh";
        var firstRun = plan.Owned.FirstOrDefault(c => existing?.CellMarkers.GetValueOrDefault(c.Name)?.Values.GetValueOrDefault("state") != "Succeeded" || c.Index >= startAt && explicitStartAt is not null);
        return Result(host, plan, "Started", parts.Length > 3 ? parts[3] : null, launcher, pid, explicitStartAt ?? firstRun?.Index ?? 1);
    }

    static GpuQueue Result(GpuHost host, LaunchPlan plan, string state, string? session, string? launcher, int? pid, int startAt) => new()
    {
        Name = host.Name, QueueId = plan.QueueId, Cells = plan.Owned.Select(c => c.Name).ToArray(), State = state, Session = session,
        RemoteRoot = QueueScripts.QueueDir(host, plan.QueueId), Launcher = launcher, LauncherPid = pid, StartAt = startAt,
    };
}
