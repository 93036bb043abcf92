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
        if (existing?.Slurm is { } held && existing.Active)
            throw held.Error is not null
                ? new RgtException("SchedulerUnavailable", FailureKind.ConnectionError, $"{host.Name}: squeue did not answer ({held.Error}), so whether jobs of queue '{plan.QueueId}' are still queued is unknown; nothing was submitted.")
                : new RgtException("QueueAlreadyRunning", FailureKind.ResourceBusy,
                    $"{host.Name}: queue '{plan.QueueId}' still has jobs queued or running ({string.Join(", ", held.ActiveIds)}); submitting again would run cells twice. Watch them with Get-GpuJob {host.Name} -QueueId {plan.QueueId}, or cancel them with Stop-GpuQueue {host.Name} -QueueId {plan.QueueId}.");
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
        if (plan.IsSlurm)
            return await SubmitAsync(shell, host, defaults, effective with
            {
                Submit = plan.Owned.Where(c => c.Index >= startAt && (explicitStartAt is not null || existing?.CellMarkers.GetValueOrDefault(c.Name)?.Values.GetValueOrDefault("state") != "Succeeded")).ToList(),
            }, ct).ConfigureAwait(false);
        var output = await shell.RunAsync(QueueScripts.Start(host, defaults, effective), Bound, ct).ConfigureAwait(false);
        var sections = Parsing.ProbeSections.Parse(output.StdOut);
        var record = sections["start"].Split('\n').Select(l => l.Split('\t')).LastOrDefault(f => f[0] is "STARTED" or "RUNNING" or "NO_TMUX") ?? new[] { "" };
        if (record[0] == "RUNNING")
            throw new RgtException("QueueAlreadyRunning", FailureKind.ResourceBusy,
                $"{host.Name}: queue '{plan.QueueId}' is already running (a launcher{(record.Length > 1 && record[1].Length > 0 ? " pid " + record[1] : "")} or one of its cells holds the queue's lock); a second launch would run cells twice. Watch it with Get-GpuJob {host.Name} -QueueId {plan.QueueId}, or stop it with Stop-GpuQueue {host.Name} -QueueId {plan.QueueId}.");
        if (record[0] == "NO_TMUX")
            throw new RgtException("TmuxMissing", FailureKind.OperationFailed, $"{host.Name}: -Detach Tmux was asked for but tmux is not installed; use -Detach Auto or Nohup, or install tmux (Initialize-GpuHost {host.Name} -InstallTmux).");
        if (record[0] != "STARTED" || record.Length < 4 || !int.TryParse(record[2], out var pid))
            throw new RgtException("QueueStartFailed", FailureKind.OperationFailed,
                $"{host.Name}: the launcher did not report that it started (status {sections.ExitCode("start")?.ToString() ?? "none"}): {(sections.Has("start") ? sections["start"] : output.StdErr + output.StdOut).Trim()}");
        var parts = new[] { "", record[1], record[2], record[3] };
        var launcher = QueueScripts.QueueDir(host, plan.QueueId) + $"/launcher-{parts[1]}.sh";
        var firstRun = plan.Owned.FirstOrDefault(c => existing?.CellMarkers.GetValueOrDefault(c.Name)?.Values.GetValueOrDefault("state") != "Succeeded" || c.Index >= startAt && explicitStartAt is not null);
        return Result(host, plan, "Started", parts[3], launcher, pid, explicitStartAt ?? firstRun?.Index ?? 1);
    }

    /// <summary>Submits the plan's cells as Slurm batch jobs (queue-start.sh under Detach Slurm).</summary>
    static async Task<GpuQueue> SubmitAsync(IHostShell shell, GpuHost host, GpuPlatformDefaults defaults, LaunchPlan plan, CancellationToken ct)
    {
        var output = await shell.RunAsync(QueueScripts.Start(host, defaults, plan), Bound, ct).ConfigureAwait(false);
        var sections = Parsing.ProbeSections.Parse(output.StdOut);
        var records = sections["start"].Split('\n').Select(l => l.Split('\t')).ToList();
        var submitted = records.Where(r => r[0] == "SUBMITTED" && r.Length >= 3).Select(r => (Cell: r[1], Id: r[2])).ToList();
        if (records.FirstOrDefault(r => r[0] == "RUNNING") is { } running)
            throw new RgtException("QueueAlreadyRunning", FailureKind.ResourceBusy,
                $"{host.Name}: queue '{plan.QueueId}' still has jobs queued or running ({string.Join(", ", (running.ElementAtOrDefault(1) ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries))}); submitting again would run cells twice. Watch them with Get-GpuJob {host.Name} -QueueId {plan.QueueId}, or cancel them with Stop-GpuQueue {host.Name} -QueueId {plan.QueueId}.");
        var said = records.Where(r => r[0] == "WARN" && r.Length >= 3).Select(r => $"{host.Name}: sbatch said, submitting {r[1]}: {r[2].Trim()}").ToArray();
        if (records.FirstOrDefault(r => r[0] == "SUBMIT_FAILED") is { } failed)
            throw new RgtException("SubmitFailed", FailureKind.OperationFailed,
                $"{host.Name}: a job of queue '{plan.QueueId}' was not submitted: {string.Join(" ", failed.Skip(1)).Trim()}." +
                (submitted.Count > 0 ? $" Already submitted: {string.Join(", ", submitted.Select(j => $"{j.Cell} ({j.Id})"))}; cancel them with Stop-GpuQueue {host.Name} -QueueId {plan.QueueId} before submitting again." : " Nothing was submitted."));
        if (!records.Any(r => r[0] == "DONE"))
            throw new RgtException("QueueStartFailed", FailureKind.OperationFailed,
                $"{host.Name}: the submission did not report that it finished (status {sections.ExitCode("start")?.ToString() ?? "none"}): {(sections.Has("start") ? sections["start"] : output.StdErr + output.StdOut).Trim()}");
        return new GpuQueue
        {
            Name = host.Name, QueueId = plan.QueueId, Cells = plan.Owned.Select(c => c.Name).ToArray(), State = submitted.Count > 0 ? "Submitted" : "AlreadyDone",
            Session = "slurm", RemoteRoot = QueueScripts.QueueDir(host, plan.QueueId), StartAt = plan.Submit?.FirstOrDefault()?.Index ?? plan.StartAt,
            SchedulerJobIds = submitted.Select(j => j.Id).ToArray(), Warnings = said,
        };
    }

    /// <summary>
    /// Stops a queue, then checks on a second connection (the first may have dropped with the kill)
    /// that nothing of it is left.
    /// </summary>
    public static async Task<GpuQueue> StopAsync(Func<HostConnector> connect, GpuHost host, string queueId, CancellationToken ct)
    {
        using (var connector = connect())
        {
            try
            {
                var (shell, resolved, _) = await connector.OpenAsync(host, ct).ConfigureAwait(false);
                host = resolved;
                var output = await shell.RunAsync(QueueScripts.Stop(host, queueId), TimeSpan.FromSeconds(30), ct).ConfigureAwait(false);
                var stop = Parsing.ProbeSections.Parse(output.StdOut)["stop"];
                if (stop.Contains("NOQUEUE", StringComparison.Ordinal))
                    throw new RgtException("QueueNotFound", FailureKind.NotFound, $"{host.Name}: there is no queue '{queueId}' (list them with Get-GpuJob {host.Name}).");
                if (!stop.Contains("STOPPED", StringComparison.Ordinal))
                    throw new RgtException("QueueStopFailed", FailureKind.OperationFailed, $"{host.Name}: the stop did not complete: {(stop.Length > 0 ? stop : output.StdErr).Trim()}");
            }
            catch (RgtException ex) when (ex.ErrorId == "ConnectionLost") { }
        }
        using var verifier = connect();
        var (vshell, vhost, _) = await verifier.OpenAsync(host, ct).ConfigureAwait(false);
        var left = Parsing.ProbeSections.Parse((await vshell.RunAsync(QueueScripts.VerifyStopped(vhost, queueId), TimeSpan.FromSeconds(30), ct).ConfigureAwait(false)).StdOut)["left"];
        var line = left.Split('\n').FirstOrDefault(l => l.StartsWith("LEFT", StringComparison.Ordinal))
            ?? throw new RgtException("QueueStopUnverified", FailureKind.OperationFailed, $"{host.Name}: could not check that queue '{queueId}' stopped.");
        var remaining = line["LEFT".Length..].Trim();
        if (remaining.Length > 0)
            throw new RgtException("QueueStillRunning", FailureKind.OperationFailed, $"{host.Name}: queue '{queueId}' still has processes after the stop: {remaining}.");
        return new GpuQueue { Name = host.Name, QueueId = queueId, State = "Stopped", RemoteRoot = QueueScripts.QueueDir(vhost, queueId) };
    }

    static GpuQueue Result(GpuHost host, LaunchPlan plan, string state, string? session, string? launcher, int? pid, int startAt) => new()
    {
        Name = host.Name, QueueId = plan.QueueId, Cells = plan.Owned.Select(c => c.Name).ToArray(), State = state, Session = session,
        RemoteRoot = QueueScripts.QueueDir(host, plan.QueueId), Launcher = launcher, LauncherPid = pid, StartAt = startAt,
    };
}
