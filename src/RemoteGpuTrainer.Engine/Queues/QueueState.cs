using System.Globalization;
using System.Text.RegularExpressions;
using RemoteGpuTrainer.Engine.Model;

namespace RemoteGpuTrainer.Engine.Queues;

/// <summary>One cell's markers as read from the box.</summary>
public sealed record CellMarkers(string Name, IReadOnlyDictionary<string, string> Values, IReadOnlyList<string> Tail, string? Crash);

/// <summary>One queue on one host as read from the box. <see cref="FrozenError"/>: its frozen queue file did not parse.</summary>
public sealed record QueueState(
    string QueueId, IReadOnlyList<QueueCell> Cells, IReadOnlyList<string> Assigned, IReadOnlyDictionary<string, string> Meta,
    bool LauncherAlive, IReadOnlyDictionary<string, CellMarkers> CellMarkers, string? FrozenError = null)
{
    public bool Done => Meta.ContainsKey("QUEUE_DONE");
    public string? FailedText => Meta.TryGetValue("QUEUE_FAILED", out var f) ? f.Trim() : null;
    /// <summary>Set for a queue whose cells were submitted to Slurm.</summary>
    public SlurmQueueState? Slurm { get; init; }
    /// <summary>A launcher holds the queue, or under Slurm some of its jobs are still queued or running (or squeue could not say).</summary>
    public bool Active => Slurm is { } s ? s.Error is not null || s.ActiveIds.Count > 0 : LauncherAlive;
}

/// <summary>A job as squeue lists it: state, elapsed, reason (or node list when running), nodes, submit time.</summary>
public sealed record SchedulerEntry(string Id, string State, string Elapsed, string Reason, string Nodes, DateTimeOffset? Submitted);

/// <summary>
/// A Slurm queue's jobs: each cell's newest job id, the jobs squeue still holds, the final state of
/// those it no longer does (sacct or scontrol), and squeue's error when it did not answer.
/// </summary>
public sealed record SlurmQueueState(
    IReadOnlyDictionary<string, string> JobIds, IReadOnlyDictionary<string, SchedulerEntry> Held,
    IReadOnlyDictionary<string, (string State, string ExitCode)> Finished, string? Error)
{
    public IReadOnlyList<string> ActiveIds => JobIds.Values.Where(Held.ContainsKey).ToList();
}

/// <summary>What queue-state.sh returned: the queues, and whether the whole listing arrived.</summary>
public sealed record QueueRead(IReadOnlyList<QueueState> Queues, bool Complete);

public static class QueueStateParser
{
    static readonly Regex EpochRx = new(@"[Ee]poch\s*[:=]?\s*(\d+)\s*(?:/|of)\s*(\d+)", RegexOptions.CultureInvariant);

    /// <summary>The queues in a script's output (its "queues" section).</summary>
    public static IReadOnlyList<QueueState> Parse(string output) => Read(Parsing.ProbeSections.Parse(output)).Queues;

    /// <summary>Complete only when the section ended with status 0 and its "end" record: anything less is not a full picture.</summary>
    public static QueueRead Read(Parsing.ProbeSections sections)
    {
        var content = sections["queues"];
        var queues = ParseRecords(content);
        var complete = sections.ExitCode("queues") == 0 && content.Split('\n').LastOrDefault() == "end";
        return new QueueRead(queues, complete);
    }

    static List<QueueState> ParseRecords(string content)
    {
        var queues = new List<QueueState>();
        string? qid = null, cell = null;
        List<string> frozen = new(), assigned = new(), tail = new();
        Dictionary<string, string> meta = new(), cellValues = new();
        string? crash = null;
        var cells = new Dictionary<string, CellMarkers>();
        bool alive = false, slurm = false;
        Dictionary<string, string> jobIds = new();
        Dictionary<string, SchedulerEntry> held = new();
        Dictionary<string, (string, string)> finished = new();
        string? schedError = null;
        void EndCell()
        {
            if (cell is not null) cells[cell] = new CellMarkers(cell, cellValues, tail, crash);
            cell = null; cellValues = new(); tail = new(); crash = null;
        }
        void EndQueue()
        {
            EndCell();
            if (qid is not null)
            {
                IReadOnlyList<QueueCell> parsed = Array.Empty<QueueCell>();
                string? error = null;
                try { parsed = QueueFile.Parse(string.Join('\n', frozen), $"{qid}/queue.txt", null); }
                catch (RgtException ex) { error = ex.Message; }
                if (frozen.Count == 0) error ??= "the frozen queue.txt is missing or empty";
                queues.Add(new QueueState(qid, parsed, assigned, meta, alive, cells, error)
                {
                    Slurm = slurm || meta.GetValueOrDefault("session")?.Trim() == "slurm" ? new SlurmQueueState(jobIds, held, finished, schedError) : null,
                });
            }
            qid = null; frozen = new(); assigned = new(); meta = new(); cells = new(); alive = false;
            slurm = false; jobIds = new(); held = new(); finished = new(); schedError = null;
        }
        foreach (var line in content.Split('\n'))
        {
            var tab = line.IndexOf('\t');
            var type = tab < 0 ? line : line[..tab];
            var rest = tab < 0 ? "" : line[(tab + 1)..];
            (string Key, string Value) Pair()
            {
                var t = rest.IndexOf('\t');
                return t < 0 ? (rest, "") : (rest[..t], rest[(t + 1)..]);
            }
            switch (type)
            {
                case "queue": EndQueue(); qid = rest; break;
                case "frozen": frozen.Add(rest); break;
                case "assigned": if (rest.Length > 0) assigned.Add(rest); break;
                case "meta": { var (k, v) = Pair(); meta[k] = v; break; }
                case "alive": alive = rest.Trim() == "1"; break;
                case "cell": EndCell(); cell = rest; break;
                case "value": { var (k, v) = Pair(); cellValues[k] = v.Trim(); break; }
                case "tail": tail.Add(rest); break;
                case "crash": if (rest.Trim().Length > 0) crash ??= rest.Trim(); break;
                case "end": EndQueue(); break;
                case "job": { var (k, v) = Pair(); jobIds[k] = v.Trim(); slurm = true; break; }
                case "sched":
                {
                    var f = rest.Split('|');
                    if (f.Length >= 6) held[f[0]] = new SchedulerEntry(f[0], f[1], f[2], f[3].Trim('(', ')'), f[4],
                        long.TryParse(f[5], NumberStyles.Integer, CultureInfo.InvariantCulture, out var epoch) ? DateTimeOffset.FromUnixTimeSeconds(epoch) : null);
                    break;
                }
                case "final":
                {
                    var (k, v) = Pair();
                    var f = v.Split('\t');
                    if (f[0].Trim().Length > 0) finished[k] = (f[0].Trim(), f.Length > 1 ? f[1].Trim() : "");
                    break;
                }
                case "schederr": schedError = rest.Trim().Length > 0 ? rest.Trim() : "squeue failed"; slurm = true; break;
            }
        }
        EndQueue();
        return queues;
    }

    /// <summary>Turns one queue's markers into one GpuJob per owned cell.</summary>
    public static IEnumerable<GpuJob> Jobs(GpuHost host, QueueState q, TimeSpan staleAfter)
    {
        var owned = q.Assigned.Count > 0 ? q.Cells.Where(c => q.Assigned.Contains(c.Name)) : q.Cells;
        foreach (var c in owned)
        {
            q.CellMarkers.TryGetValue(c.Name, out var m);
            var v = m?.Values ?? new Dictionary<string, string>();
            var state = v.GetValueOrDefault("state") ?? nameof(CellState.Pending);
            string? reason = v.GetValueOrDefault("reason");
            SchedulerEntry? sched = null;
            string? jobId = null;
            if (q.Slurm is { } slurm)
                (state, reason, sched, jobId) = SlurmState(slurm, c.Name, v, state, reason);
            else if (state == nameof(CellState.Running))
            {
                var pidAlive = v.GetValueOrDefault("pid_alive") == "1";
                var logAge = long.TryParse(v.GetValueOrDefault("log_age"), out var a) ? a : 0;
                // A dead cell process under a live launcher is the moment between exit and its markers;
                // Stale means nobody will record the result: the launcher is gone, or the log stopped.
                if (!q.LauncherAlive || (!pidAlive && logAge > 60) || logAge > staleAfter.TotalSeconds) state = nameof(CellState.Stale);
            }
            int? epoch = null, epochs = null;
            foreach (var line in m?.Tail ?? Array.Empty<string>())
            {
                var em = EpochRx.Match(line);
                if (em.Success) { epoch = int.Parse(em.Groups[1].Value, CultureInfo.InvariantCulture); epochs = int.Parse(em.Groups[2].Value, CultureInfo.InvariantCulture); }
            }
            var lastLine = m?.Tail.LastOrDefault(l => l.Trim().Length > 0 && !l.StartsWith("=== rgt:", StringComparison.Ordinal))?.Trim();
            yield return new GpuJob
            {
                Name = host.Name, QueueId = q.QueueId, Index = c.Index, Cell = c.Name, State = state,
                ExitCode = int.TryParse(v.GetValueOrDefault("exit_code"), out var rc) ? rc : null,
                StartedAt = Time(v.GetValueOrDefault("started_at")), FinishedAt = state is nameof(CellState.Running) or nameof(CellState.Stale) ? null : Time(v.GetValueOrDefault("finished_at")),
                Epoch = epoch, Epochs = epochs, LastLine = lastLine, Crash = m?.Crash, Reason = reason,
                SchedulerJobId = jobId, NodeList = sched is { State: not "PENDING" } && sched.Nodes.Length > 0 ? sched.Nodes : v.GetValueOrDefault("node") is { Length: > 0 } n ? n : null,
                Restarts = int.TryParse(v.GetValueOrDefault("restarts"), out var restarts) ? restarts : null,
                PendingSince = sched is { State: "PENDING" } ? sched.Submitted : null,
                LogPath = QueueScripts.QueueDir(host, q.QueueId) + "/cells/" + c.Name + "/log",
                CheckpointDir = QueueScripts.CheckpointDir(host, q.QueueId, c.Name),
                DurableDir = QueueScripts.DurableCellDir(host, c.Name),
            };
        }
    }

    /// <summary>
    /// A Slurm cell's state: the scheduler's while it holds the job (a job that is pending again after
    /// it had started was requeued), the cell's own end markers once it left, else what sacct or
    /// scontrol remember; never a guess: a job nobody can account for is Stale, squeue failing is Unknown.
    /// </summary>
    static (string State, string? Reason, SchedulerEntry? Sched, string? JobId) SlurmState(SlurmQueueState slurm, string cell, IReadOnlyDictionary<string, string> v, string state, string? reason)
    {
        if (!slurm.JobIds.TryGetValue(cell, out var id)) return (state, reason, null, null);
        if (slurm.Error is not null && !CellStates.EndedOnTheBox(state))
            return (nameof(CellState.Unknown), "squeue did not answer: " + slurm.Error, null, id);
        if (slurm.Held.TryGetValue(id, out var sched))
        {
            return sched.State switch
            {
                "PENDING" when v.ContainsKey("started_at") => (nameof(CellState.Requeued), NoneIsNull(sched.Reason), sched, id),
                "PENDING" => (nameof(CellState.Pending), NoneIsNull(sched.Reason), sched, id),
                "RUNNING" or "COMPLETING" or "CONFIGURING" or "STAGE_OUT" => (nameof(CellState.Running), null, sched, id),
                "SUSPENDED" or "STOPPED" => (nameof(CellState.Suspended), sched.Reason, sched, id),
                "REQUEUED" or "REQUEUE_HOLD" or "REQUEUE_FED" => (nameof(CellState.Requeued), sched.Reason, sched, id),
                _ => (state == nameof(CellState.Pending) ? nameof(CellState.Pending) : state, $"{sched.State} {sched.Reason}".Trim(), sched, id),
            };
        }
        if (CellStates.EndedOnTheBox(state)) return (state, reason, null, id);
        if (slurm.Finished.TryGetValue(id, out var fin))
        {
            var mapped = fin.State switch
            {
                "CANCELLED" => nameof(CellState.Cancelled),
                "COMPLETED" => nameof(CellState.Stale),
                "TIMEOUT" => nameof(CellState.Failed),
                _ => nameof(CellState.Failed),
            };
            var why = fin.State switch
            {
                "COMPLETED" => $"job {id} COMPLETED without the cell's end markers",
                "TIMEOUT" => $"job {id} reached its time limit (TIMEOUT, exit {fin.ExitCode})",
                _ => $"job {id} ended {fin.State} (exit {fin.ExitCode})",
            };
            return (mapped, why, null, id);
        }
        return (nameof(CellState.Stale), $"job {id} is no longer in squeue and neither sacct nor scontrol know how it ended", null, id);
    }

    static string? NoneIsNull(string reason) => reason is "None" or "" ? null : reason;

    static DateTimeOffset? Time(string? s) =>
        DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? t : null;
}

/// <summary>What a Slurm pending reason means for the wait.</summary>
public static class PendingReasons
{
    /// <summary>Reasons a job keeps until a person changes something: it will not start by waiting.</summary>
    static readonly string[] Hopeless =
    {
        "PartitionDown", "PartitionInactive", "PartitionNodeLimit", "PartitionTimeLimit", "PartitionConfig", "BadConstraints",
        "InvalidAccount", "InvalidQOS", "JobHeldAdmin", "JobHeldUser", "DependencyNeverSatisfied", "ReqNodeNotAvail",
        "AssocMaxWallDurationPerJobLimit", "QOSMaxWallDurationPerJobLimit", "AccountNotAllowed", "QOSNotAllowed", "NodeDown",
    };

    /// <summary>True when the job will not start without someone acting (a held job, a down partition, an impossible request).</summary>
    public static bool IsHopeless(string? reason) =>
        reason is not null && Hopeless.Any(h => reason.StartsWith(h, StringComparison.Ordinal));

    /// <summary>True for the ordinary waits of a busy cluster (its turn, free GPUs, a requeue's delay).</summary>
    public static bool IsOrdinary(string? reason) => reason is null or "" or "None" or "Resources" or "Priority" or "BeginTime";
}
