using System.Text.Json;

namespace RemoteGpuTrainer.Engine.Checkpoints;

/// <summary>One verification recorded for the teardown gate.</summary>
/// <param name="RunSeconds">A mirrored copy: how far into its cell's run the box wrote the file (its mtime less the cell's start).</param>
public sealed record LedgerEntry(
    DateTimeOffset Time, string? Host, string? RemotePath, string? RemoteSha256, string LocalPath, string? LocalSha256,
    string Verdict, string? Safety, string? Reason, string User, string? Cell = null, long? Epoch = null, double? RunSeconds = null);

/// <summary>
/// The local evidence ledger (ledger.jsonl in the config directory): one JSON line per verification,
/// appended under the state lock. Remove-GpuRental reads it to decide whether a box may be torn down.
/// </summary>
public sealed class EvidenceLedger
{
    /// <summary>Past this size an append compacts the ledger (<see cref="Compact"/>).</summary>
    public const long DefaultMaxBytes = 4L << 20;

    /// <summary>How many lines a compaction keeps of each (host, remote path, local path, verdict).</summary>
    public const int KeptPerKey = 8;

    /// <summary>How many archives of compacted-away lines are kept (ledger.1.jsonl.gz newest).</summary>
    public const int Archives = 4;

    public EvidenceLedger(string? path = null, long maxBytes = DefaultMaxBytes)
    {
        FilePath = path ?? Path.Combine(ConfigPaths.ConfigDirectory, "ledger.jsonl");
        MaxBytes = maxBytes;
    }

    public string FilePath { get; }

    public long MaxBytes { get; }

    public void Append(IEnumerable<LedgerEntry> entries)
    {
        using var _ = FileLock.Acquire(FilePath, TimeSpan.FromSeconds(30));
        using (var w = new StreamWriter(new FileStream(FilePath, FileMode.Append, FileAccess.Write, FileShare.Read)))
        {
            foreach (var e in entries) w.WriteLine(JsonSerializer.Serialize(e));
            w.Flush();
        }
        if (new FileInfo(FilePath).Length > MaxBytes) Compact();
    }

    /// <summary>
    /// Keeps the ledger from growing without bound (a patrol mirroring every five minutes for weeks adds a line a
    /// cell a tick). Every decision reads the newest line of a key: the gate the newest Verified line of a host and
    /// remote path, a file's origin the newest Pulled line of its local path, the resume judge the last copies of a
    /// mirrored file. So the last <see cref="KeptPerKey"/> lines of each (host, remote path, local path, verdict)
    /// stay, in order, and the rest go to ledger.1.jsonl.gz (older archives shift up to .<see cref="Archives"/>,
    /// the oldest is dropped). Called under the ledger's lock; the new file replaces the old atomically.
    /// </summary>
    void Compact()
    {
        var entries = Read();
        var kept = new bool[entries.Count];
        var seen = new Dictionary<(string, string, string, string), int>();
        for (int i = entries.Count - 1; i >= 0; i--)
        {
            var e = entries[i];
            var key = ((e.Host ?? "").ToLowerInvariant(), e.RemotePath ?? "", e.LocalPath, e.Verdict);
            var n = seen.GetValueOrDefault(key);
            kept[i] = n < KeptPerKey;
            seen[key] = n + 1;
        }
        var dropped = entries.Where((_, i) => !kept[i]).ToList();
        if (dropped.Count == 0) return;
        var archive = ArchivePath(1);
        for (int n = Archives; n > 1; n--)
            if (File.Exists(ArchivePath(n - 1))) File.Move(ArchivePath(n - 1), ArchivePath(n), overwrite: true);
        using (var gz = new System.IO.Compression.GZipStream(new FileStream(archive + ".tmp", FileMode.Create, FileAccess.Write), System.IO.Compression.CompressionLevel.Optimal))
        using (var w = new StreamWriter(gz))
            foreach (var e in dropped) w.WriteLine(JsonSerializer.Serialize(e));
        File.Move(archive + ".tmp", archive, overwrite: true);
        Rewrite(entries.Where((_, i) => kept[i]));
    }

    public string ArchivePath(int n) => Path.Combine(Path.GetDirectoryName(FilePath)!, $"{Path.GetFileNameWithoutExtension(FilePath)}.{n}.jsonl.gz");

    /// <summary>Writes the ledger anew through a temporary file (the caller holds the lock).</summary>
    void Rewrite(IEnumerable<LedgerEntry> entries)
    {
        var temp = FilePath + ".tmp";
        using (var w = new StreamWriter(new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None)))
        {
            foreach (var e in entries) w.WriteLine(JsonSerializer.Serialize(e));
            w.Flush();
            ((FileStream)w.BaseStream).Flush(flushToDisk: true);
        }
        File.Move(temp, FilePath, overwrite: true);
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
        Rewrite(renamed);
        return changed;
    }

    /// <summary>
    /// Where a local file came from: the newest "Pulled" line for this path, when the file's hash now is
    /// the one that pull wrote and the box computed. A file changed since, or overwritten by a later pull
    /// from elsewhere, has no origin: its verdict is no evidence for any box.
    /// </summary>
    public static LedgerEntry? OriginOf(IReadOnlyList<LedgerEntry> entries, string localPath, string? localSha256)
    {
        if (localSha256 is null) return null;
        var full = Path.GetFullPath(localPath);
        var newest = entries.LastOrDefault(e => e.Verdict == "Pulled" && e.LocalPath == full);
        return newest is { Host: not null, RemoteSha256: not null } && newest.LocalSha256 == localSha256 && newest.RemoteSha256 == localSha256 ? newest : null;
    }

    /// <summary>
    /// Why a piped pull's file is not the box's bytes any more, or null when it is: its hash now must be
    /// the transfer's, the transfer's must be the box's, and the ledger's newest pull of that path must
    /// be this transfer (same host, remote path and hash).
    /// </summary>
    public static string? ModifiedSincePull(IReadOnlyList<LedgerEntry> entries, Model.GpuTransfer t, string? localSha256Now)
    {
        static string Short(string? h) => h is null ? "none" : h[..Math.Min(12, h.Length)] + "…";
        if (t.Sha256 is null || t.RemoteSha256 is null || t.Sha256 != t.RemoteSha256)
            return $"the pull has no verified hash (local {Short(t.Sha256)}, box {Short(t.RemoteSha256)})";
        if (localSha256Now != t.Sha256)
            return $"the file is not the one pulled from {t.Name}:{t.RemotePath} (now {Short(localSha256Now)}, pulled {Short(t.Sha256)})";
        var origin = OriginOf(entries, t.LocalPath, localSha256Now);
        if (origin is null)
            return "the evidence ledger has no pull of this path with these bytes";
        if (!string.Equals(origin.Host, t.Name, StringComparison.OrdinalIgnoreCase) || origin.RemotePath != t.RemotePath)
            return $"the ledger's newest pull of this path came from {origin.Host}:{origin.RemotePath}, not {t.Name}:{t.RemotePath}";
        return null;
    }

    /// <summary>
    /// A verdict with the origin it is evidence for: a piped pull's own (host, remote path, the box's
    /// hash) only while the file is still those bytes, else "ModifiedSincePull" and no evidence; a file
    /// verified by path, the ledger's pull of it (<see cref="OriginOf"/>), or none.
    /// </summary>
    public static (Model.CheckpointVerification V, string? Host, string? Remote, string? RemoteSha, string? Cell) Attribute(
        IReadOnlyList<LedgerEntry> entries, Model.CheckpointVerification v, Model.GpuTransfer? t)
    {
        if (t is null)
        {
            var o = OriginOf(entries, v.Path, v.Sha256);
            return (v, o?.Host, o?.RemotePath, o?.RemoteSha256, o?.Cell);
        }
        if (ModifiedSincePull(entries, t, v.Sha256) is { } why)
            return (v with { Status = "ModifiedSincePull", Reason = $"Modified since pull: {why}; this verdict is no evidence for {t.Name}." + (v.Reason is null ? "" : " " + v.Reason) },
                t.Name, t.RemotePath, t.RemoteSha256, t.Cell);
        return (v, t.Name, t.RemotePath, t.RemoteSha256, t.Cell);
    }

    /// <summary>What a verification line may prove to the teardown gate: verified, with the local bytes equal to the box's.</summary>
    public static bool IsEvidence(LedgerEntry e) =>
        e.Verdict == "Verified" && e.Host is not null && e.RemotePath is not null && e.RemoteSha256 is not null && e.LocalSha256 == e.RemoteSha256;

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
