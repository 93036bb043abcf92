using RemoteGpuTrainer.Engine.Model;

namespace RemoteGpuTrainer.Engine.Queues;

/// <summary>
/// Wait-GpuJob's rules, one look at a time. Each cell is handed out the moment it is final (so a pull
/// of early cells can start while others train); a cell that cannot end by waiting is given up at
/// once with its reason — a Slurm job held or refused by the cluster (JobCannotStart), a spot rental
/// the provider took back (RentalPreempted) — rather than at the timeout; the rest is read again.
/// </summary>
public sealed class JobWait
{
    readonly Dictionary<(string, string, string), GpuJob> _current;
    readonly HashSet<(string, string, string)> _handedOut = new();

    public JobWait(IEnumerable<GpuJob> jobs) =>
        _current = jobs.GroupBy(Key).Select(g => g.Last()).ToDictionary(Key);

    static (string, string, string) Key(GpuJob j) => (j.Name, j.QueueId, j.Cell);

    /// <summary>What one look decided.</summary>
    public sealed record Look(IReadOnlyList<GpuJob> Final, IReadOnlyList<(GpuJob Job, RgtException Error)> GivenUp, IReadOnlyList<GpuJob> Pending, string Status, int Percent);

    public Look Next()
    {
        var final = _current.Values.Where(j => j.IsFinal && _handedOut.Add(Key(j))).ToList();
        var givenUp = new List<(GpuJob, RgtException)>();
        foreach (var j in _current.Values.Where(j => j.State is nameof(CellState.Pending) or nameof(CellState.Requeued) && PendingReasons.IsHopeless(j.Reason)).ToList())
        {
            givenUp.Add((j, new RgtException("JobCannotStart", FailureKind.ResourceBusy,
                $"{j.Name}/{j.Cell}: job {j.SchedulerJobId} is pending on {j.Reason} and will not start until someone acts (scontrol show job {j.SchedulerJobId}); not waiting for it.")));
            _current.Remove(Key(j));
        }
        foreach (var j in _current.Values.Where(j => j.State == nameof(CellState.Preempted)).ToList())
        {
            givenUp.Add((j, new RgtException("RentalPreempted", FailureKind.ResourceBusy, $"{j.Name}/{j.Cell}: {j.Reason}")));
            _current.Remove(Key(j));
        }
        var pending = _current.Values.Where(j => !j.IsFinal).ToList();
        var training = pending.Where(j => j.Epoch is not null).Select(j => $"{j.Cell} epoch {j.Epoch}/{j.Epochs}").Take(3);
        var queued = pending.Where(j => j.State is nameof(CellState.Pending) or nameof(CellState.Requeued)).GroupBy(j => j.Reason ?? "queued").Select(g => $"{g.Count()} pending ({g.Key})");
        var detail = training.Concat(queued).ToList();
        var status = $"{_current.Count - pending.Count} of {_current.Count} cells final" + (detail.Count > 0 ? "; " + string.Join(", ", detail) : "");
        var percent = _current.Count == 0 ? 100 : (_current.Count - pending.Count) * 100 / _current.Count;
        return new Look(final, givenUp, pending, status, percent);
    }

    /// <summary>The error for cells still not final when the wait ends.</summary>
    public static RgtException TimedOut(IReadOnlyList<GpuJob> pending, TimeSpan timeout) =>
        new("WaitTimeout", FailureKind.Timeout,
            $"Still not final after {timeout}: {string.Join(", ", pending.Select(j => $"{j.Name}/{j.Cell} ({j.State}{(j.Epoch is null ? "" : $", epoch {j.Epoch}/{j.Epochs}")})"))}.");

    /// <summary>What to read next: each host with pending cells, and its queue when they are all of one.</summary>
    public static IReadOnlyList<(string Host, string? QueueId)> Targets(IReadOnlyList<GpuJob> pending) =>
        pending.GroupBy(j => j.Name, StringComparer.OrdinalIgnoreCase)
            .Select(g => (g.Key, g.Select(j => j.QueueId).Distinct().Count() == 1 ? g.First().QueueId : null)).ToList();

    /// <summary>Drops the cells of a host that is no longer in the inventory.</summary>
    public void Forget(string host)
    {
        foreach (var k in _current.Keys.Where(k => string.Equals(k.Item1, host, StringComparison.OrdinalIgnoreCase)).ToList()) _current.Remove(k);
    }

    /// <summary>Takes in what a read saw: the cells this wait follows get their new state.</summary>
    public void Update(IEnumerable<GpuJob> seen)
    {
        foreach (var j in seen)
            if (_current.ContainsKey(Key(j))) _current[Key(j)] = j;
    }
}
