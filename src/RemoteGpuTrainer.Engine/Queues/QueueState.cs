using System.Globalization;
using System.Text.RegularExpressions;
using RemoteGpuTrainer.Engine.Model;

namespace RemoteGpuTrainer.Engine.Queues;

/// <summary>One cell's markers as read from the box.</summary>
public sealed record CellMarkers(string Name, IReadOnlyDictionary<string, string> Values, IReadOnlyList<string> Tail, string? Crash);

/// <summary>One queue on one host as read from the box.</summary>
public sealed record QueueState(
    string QueueId, IReadOnlyList<QueueCell> Cells, IReadOnlyList<string> Assigned, IReadOnlyDictionary<string, string> Meta,
    bool LauncherAlive, IReadOnlyDictionary<string, CellMarkers> CellMarkers)
{
    public bool Done => Meta.ContainsKey("QUEUE_DONE");
    public string? FailedText => Meta.TryGetValue("QUEUE_FAILED", out var f) ? f.Trim() : null;
}

public static class QueueStateParser
{
    static readonly Regex EpochRx = new(@"[Ee]poch\s*[:=]?\s*(\d+)\s*(?:/|of)\s*(\d+)", RegexOptions.CultureInvariant);

    public static IReadOnlyList<QueueState> Parse(string output)
    {
        var queues = new List<QueueState>();
        string? qid = null, section = null, cell = null;
        List<string> frozen = new(), assigned = new(), tail = new();
        Dictionary<string, string> meta = new(), cellValues = new();
        string? crash = null;
        var cells = new Dictionary<string, CellMarkers>();
        bool alive = false;
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
                IReadOnlyList<QueueCell> parsed;
                try { parsed = QueueFile.Parse(string.Join('\n', frozen), $"{qid}/queue.txt", null); }
                catch (RgtException) { parsed = Array.Empty<QueueCell>(); }
                queues.Add(new QueueState(qid, parsed, assigned, meta, alive, cells));
            }
            qid = null; frozen = new(); assigned = new(); meta = new(); cells = new(); alive = false;
        }
        foreach (var line in output.Split('\n'))
        {
            if (line.StartsWith(QueueScripts.Marker, StringComparison.Ordinal))
            {
                var rest = line[QueueScripts.Marker.Length..];
                var sp = rest.IndexOf(' ');
                var key = sp < 0 ? rest : rest[..sp];
                var arg = sp < 0 ? "" : rest[(sp + 1)..];
                switch (key)
                {
                    case "queue": EndQueue(); qid = arg; section = null; break;
                    case "cell": EndCell(); cell = arg; section = "cellmeta"; break;
                    case "end": EndQueue(); section = null; break;
                    default: section = key; break;
                }
                continue;
            }
            switch (section)
            {
                case "frozen": frozen.Add(line); break;
                case "assigned": if (line.Length > 0) assigned.Add(line); break;
                case "meta":
                    var eq = line.IndexOf('=');
                    if (eq > 0) { if (line[..eq] == "alive") alive = line[(eq + 1)..].Trim() == "1"; else meta[line[..eq]] = line[(eq + 1)..]; }
                    break;
                case "cellmeta":
                    var e2 = line.IndexOf('=');
                    if (e2 > 0) cellValues[line[..e2]] = line[(e2 + 1)..].Trim();
                    break;
                case "tail": tail.Add(line); break;
                case "crash": if (line.Trim().Length > 0) crash ??= line.Trim(); break;
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
            var state = v.GetValueOrDefault("state") ?? "Pending";
            if (state == "Running")
            {
                var pidAlive = v.GetValueOrDefault("pid_alive") == "1";
                var logAge = long.TryParse(v.GetValueOrDefault("log_age"), out var a) ? a : 0;
                // A dead cell process under a live launcher is the moment between exit and its markers;
                // Stale means nobody will record the result: the launcher is gone, or the log stopped.
                if (!q.LauncherAlive || (!pidAlive && logAge > 60) || logAge > staleAfter.TotalSeconds) state = "Stale";
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
                StartedAt = Time(v.GetValueOrDefault("started_at")), FinishedAt = state is "Running" or "Stale" ? null : Time(v.GetValueOrDefault("finished_at")),
                Epoch = epoch, Epochs = epochs, LastLine = lastLine, Crash = m?.Crash,
                LogPath = QueueScripts.QueueDir(host, q.QueueId) + "/cells/" + c.Name + "/log",
                CheckpointDir = QueueScripts.CheckpointDir(host, q.QueueId, c.Name),
                DurableDir = QueueScripts.DurableCellDir(host, c.Name),
            };
        }
    }

    static DateTimeOffset? Time(string? s) =>
        DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? t : null;
}
