using System.Text.Json;

namespace RemoteGpuTrainer.Engine.Checkpoints;

/// <summary>One verification recorded for the teardown gate.</summary>
public sealed record LedgerEntry(
    DateTimeOffset Time, string? Host, string? RemotePath, string? RemoteSha256, string LocalPath, string? LocalSha256,
    string Verdict, string? Safety, string? Reason, string User, string? Cell = null);

/// <summary>
/// The local evidence ledger (ledger.jsonl in the config directory): one JSON line per verification,
/// appended under the state lock. Remove-GpuRental reads it to decide whether a box may be torn down.
/// </summary>
public sealed class EvidenceLedger
{
    public EvidenceLedger(string? path = null) => FilePath = path ?? Path.Combine(ConfigPaths.ConfigDirectory, "ledger.jsonl");

    public string FilePath { get; }

    public void Append(IEnumerable<LedgerEntry> entries)
    {
        using var _ = FileLock.Acquire(FilePath, TimeSpan.FromSeconds(30));
        using var w = new StreamWriter(new FileStream(FilePath, FileMode.Append, FileAccess.Write, FileShare.Read));
        foreach (var e in entries) w.WriteLine(JsonSerializer.Serialize(e));
        w.Flush();
    }

    /// <summary>A renamed host keeps its evidence: its lines are rewritten under the new name (atomically, under the lock).</summary>
    public int RenameHost(string from, string to)
    {
        using var _ = FileLock.Acquire(FilePath, TimeSpan.FromSeconds(30));
        var entries = Read();
        var changed = 0;
        var renamed = entries.Select(e =>
        {
            if (!string.Equals(e.Host, from, StringComparison.OrdinalIgnoreCase)) return e;
            changed++;
            return e with { Host = to };
        }).ToList();
        if (changed == 0) return 0;
        var temp = FilePath + ".tmp";
        using (var w = new StreamWriter(new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None)))
        {
            foreach (var e in renamed) w.WriteLine(JsonSerializer.Serialize(e));
            w.Flush();
            ((FileStream)w.BaseStream).Flush(flushToDisk: true);
        }
        File.Move(temp, FilePath, overwrite: true);
        return changed;
    }

    /// <summary>Where a local file came from: the newest "Pulled" line for this path whose local hash is still the file's.</summary>
    public static LedgerEntry? OriginOf(IReadOnlyList<LedgerEntry> entries, string localPath, string? localSha256)
    {
        if (localSha256 is null) return null;
        var full = Path.GetFullPath(localPath);
        return entries.LastOrDefault(e => e.Verdict == "Pulled" && e.LocalPath == full && e.LocalSha256 == localSha256 && e.Host is not null && e.RemoteSha256 is not null);
    }

    public IReadOnlyList<LedgerEntry> Read()
    {
        if (!File.Exists(FilePath)) return Array.Empty<LedgerEntry>();
        var list = new List<LedgerEntry>();
        int n = 0;
        foreach (var line in File.ReadLines(FilePath))
        {
            n++;
            if (line.Trim().Length == 0) continue;
            try { list.Add(JsonSerializer.Deserialize<LedgerEntry>(line)!); }
            catch (JsonException ex)
            {
                throw new RgtException("LedgerMalformed", FailureKind.InvalidData, $"The evidence ledger {FilePath} line {n} is not valid: {ex.Message}");
            }
        }
        return list;
    }
}
