using System.Text.Json;

namespace RemoteGpuTrainer.Engine.Recovery;

/// <summary>One step of a recovery, as the journal keeps it.</summary>
/// <param name="Step">
/// preempted (the provider took the rental back; Price: its hourly price), restarting, restarted, restart-failed (the same rental
/// did not come back in time), renting (Rental: the inventory name the next one gets), rented (Rental, Price), no-offer, set-up,
/// pushed (a cell's mirrored checkpoint on the new box), moved (the queue's host name is the new rental's now), abandoned (a
/// rental the recovery made and could not use, terminated), resume-from (a cell and the epoch it must go on from), relaunched,
/// proven, not-proven, stopped (why it did not go on).
/// </param>
public sealed record JournalEntry(DateTimeOffset Time, string Step, string? Cell = null, long? Epoch = null, string? Detail = null,
    string? Rental = null, decimal? Price = null);

/// <summary>
/// The recovery journal of one queue: what was done, in order, appended one JSON line at a time under the
/// state lock. A later tick reads it to go on where a killed one stopped, and Get-GpuJob reads it to show
/// each cell's recoveries and whether its resume was proven.
/// </summary>
public sealed class RecoveryJournal
{
    public RecoveryJournal(string path) => FilePath = path;

    public string FilePath { get; }

    public void Add(JournalEntry entry)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(FilePath)!);
        using var _ = FileLock.Acquire(FilePath, TimeSpan.FromSeconds(10));
        File.AppendAllText(FilePath, JsonSerializer.Serialize(entry) + "\n");
    }

    /// <summary>Every entry; a line that cannot be read (a torn last line) is skipped, the rest stand.</summary>
    public IReadOnlyList<JournalEntry> Read()
    {
        if (!File.Exists(FilePath)) return Array.Empty<JournalEntry>();
        var list = new List<JournalEntry>();
        foreach (var line in File.ReadAllLines(FilePath))
        {
            try { if (JsonSerializer.Deserialize<JournalEntry>(line) is { } e) list.Add(e); }
            catch (JsonException) { }
        }
        return list;
    }

    /// <summary>
    /// The steps of the recovery under way: those after the last relaunch (or Start-GpuQueue -Recover's "started"),
    /// less the verdicts on earlier resumes. Empty when none is under way.
    /// </summary>
    public static IReadOnlyList<JournalEntry> Current(IReadOnlyList<JournalEntry> entries)
    {
        var last = entries.Select((e, n) => (e, n)).LastOrDefault(x => x.e.Step is "relaunched" or "started");
        return entries.Skip(last.e is null ? 0 : last.n + 1).Where(e => e.Step is not ("proven" or "not-proven")).ToList();
    }

    /// <summary>The cells the last relaunch since the queue was started with -Recover ran (null: none yet); the others had finished before it.</summary>
    public static IReadOnlyList<string>? LastRelaunched(IReadOnlyList<JournalEntry> entries)
    {
        var last = entries.Select((e, n) => (e, n)).LastOrDefault(x => x.e.Step is "relaunched" or "started");
        return last.e is { Step: "relaunched" } r ? (r.Detail ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries) : null;
    }

    /// <summary>Relaunches done since the queue was last started with -Recover (each is one recovery).</summary>
    public static int Recoveries(IReadOnlyList<JournalEntry> entries)
    {
        var start = entries.Select((e, n) => (e, n)).LastOrDefault(x => x.e.Step == "started");
        return entries.Skip(start.e is null ? 0 : start.n).Count(e => e.Step == "relaunched");
    }

    /// <summary>
    /// The epoch the cell had to go on from at its last recovery, when it was relaunched (null: not yet), and
    /// whether its first checkpoint written after that proved it did (null: not judged yet).
    /// </summary>
    public static (long? From, DateTimeOffset? RelaunchedAt, bool? Proven) Resume(IReadOnlyList<JournalEntry> entries, string cell)
    {
        var last = entries.Select((e, i) => (e, i)).LastOrDefault(x => x.e.Step == "resume-from" && x.e.Cell == cell);
        if (last.e is null) return (null, null, null);
        var after = entries.Skip(last.i + 1).ToList();
        var relaunched = after.FirstOrDefault(e => e.Step == "relaunched")?.Time;
        var verdict = after.FirstOrDefault(e => e.Cell == cell && e.Step is "proven" or "not-proven");
        return (last.e.Epoch, relaunched, verdict is null ? null : verdict.Step == "proven");
    }

    /// <summary>
    /// A cell's chain of boxes with the epochs it trained on each, as its recoveries left them: "rental 12
    /// epoch 0–7 → rental 15 epoch 7–12" (the last link up to <paramref name="lastEpoch"/>); null without a recovery.
    /// </summary>
    public static string? Chain(IReadOnlyList<JournalEntry> entries, string cell, long? lastEpoch)
    {
        var parts = new List<string>();
        long from = 0;
        string? box = null;
        for (int i = 0; i < entries.Count; i++)
        {
            var e = entries[i];
            if (e.Step == "preempted" && box is null) box = e.Rental;
            if (e.Step != "resume-from" || e.Cell != cell) continue;
            parts.Add($"rental {box ?? "?"} epoch {from}–{e.Epoch ?? 0}");
            from = e.Epoch ?? 0;
            box = entries.Skip(i).FirstOrDefault(x => x.Step == "relaunched")?.Rental ?? box;
        }
        if (parts.Count == 0) return null;
        parts.Add($"rental {box ?? "?"} epoch {from}–{lastEpoch?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "…"}");
        return string.Join(" → ", parts);
    }
}
