using System.Text.Json;

namespace RemoteGpuTrainer.Engine.Recovery;

/// <summary>One step of a recovery, as the journal keeps it.</summary>
/// <param name="Step">preempted, restarting, restarted, resume-from (a cell and the epoch it must go on from), relaunched, proven, not-proven, stopped (why it did not go on).</param>
public sealed record JournalEntry(DateTimeOffset Time, string Step, string? Cell = null, long? Epoch = null, string? Detail = null);

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

    /// <summary>Relaunches done so far (each is one recovery).</summary>
    public static int Recoveries(IReadOnlyList<JournalEntry> entries) => entries.Count(e => e.Step == "relaunched");

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
}
