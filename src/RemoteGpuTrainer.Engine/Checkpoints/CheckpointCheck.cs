using RemoteGpuTrainer.Engine.Model;

namespace RemoteGpuTrainer.Engine.Checkpoints;

/// <summary>One thing to verify: a path (a cell folder, a folder of them, a file), or a file a pull just wrote with its transfer.</summary>
public sealed record CheckpointInput(string Path, GpuTransfer? Transfer = null);

/// <summary>What a verification run found: the verdicts (with their origin), the errors (each with what it is about) and what to tell the user.</summary>
public sealed record CheckpointReport(
    IReadOnlyList<CheckpointVerification> Verdicts, IReadOnlyList<(string Target, RgtException Error)> Errors,
    IReadOnlyList<string> Warnings, IReadOnlyList<string> Notes);

/// <summary>
/// Test-Checkpoint as one engine call: discover the cell folders and files, verify each without
/// executing it, hold -Expect in every form (folders count their cell folders, piped pulls the cells
/// they carry; an empty folder is a failure), attribute each verdict to the box its bytes came from
/// (<see cref="EvidenceLedger.Attribute"/>), and append every verdict to the evidence ledger.
/// </summary>
public static class CheckpointCheck
{
    public static CheckpointReport Run(IReadOnlyList<CheckpointInput> inputs, TrustOptions trust, string artifact, string metricsFile, int? expect, EvidenceLedger ledger)
    {
        var results = new List<(CheckpointVerification V, GpuTransfer? T)>();
        var errors = new List<(string, RgtException)>();
        var warnings = new List<string>();
        var notes = new List<string>();
        int cellFolders = 0;
        bool anyFolderInput = false;
        foreach (var (path, transfer) in inputs)
        {
            if (transfer is not null)
            {
                // A pulled file: verify the file itself; metrics and logs are data, not checkpoints.
                if (!CheckpointFolders.IsCheckpointFile(path)) { notes.Add($"{path}: not a checkpoint file (metrics, logs and other data are skipped)."); continue; }
                // A cell's artifact is checked with its folder, so the metric is reported in this form too.
                var v = transfer.Cell is not null && string.Equals(Path.GetFileName(path), artifact, StringComparison.Ordinal)
                    ? CheckpointFolders.VerifyCell(Path.GetDirectoryName(path)!, artifact, metricsFile, trust)
                    : CheckpointVerifier.VerifyFile(path, trust, transfer.Cell ?? Path.GetFileName(path));
                results.Add((v, transfer));
                continue;
            }
            List<string> cells, files;
            try { (cells, files) = CheckpointFolders.Discover(path, artifact); }
            catch (RgtException ex) { errors.Add((path, ex)); continue; }
            if (Directory.Exists(path)) anyFolderInput = true;
            cellFolders += cells.Count;
            if (cells.Count == 0 && files.Count == 0)
            {
                errors.Add((path, new RgtException("CheckpointFolderEmpty", FailureKind.InvalidData, $"{path} holds no cell folder and no checkpoint file: an empty pull is a failure, not '0 of 0 OK'.")));
                results.Add((new CheckpointVerification { Cell = Path.GetFileName(path), Path = path, Status = "Failed", Reason = "empty: nothing to verify" }, null));
                continue;
            }
            foreach (var c in cells) results.Add((CheckpointFolders.VerifyCell(c, artifact, metricsFile, trust), null));
            foreach (var f in files) results.Add((CheckpointVerifier.VerifyFile(f, trust), null));
        }
        var counted = anyFolderInput ? cellFolders
            : results.Where(r => r.T is not null).Select(r => r.T!.Cell ?? Path.GetDirectoryName(r.V.Path)).Distinct(StringComparer.Ordinal).Count();
        if (expect is not null && counted != expect)
            errors.Add((string.Join(", ", inputs.Select(i => i.Path).Distinct()), new RgtException("CheckpointCountMismatch", FailureKind.InvalidData,
                $"expected {expect} cells, found {counted}: the pull is incomplete or the queue had other cells.")));

        IReadOnlyList<LedgerEntry> known = Array.Empty<LedgerEntry>();
        try { known = ledger.Read(); }
        catch (RgtException ex) { warnings.Add($"The evidence ledger could not be read, so files verified by path carry no origin: {ex.Message}"); }
        var attributed = results.Select(r => EvidenceLedger.Attribute(known, r.V, r.T)).ToList();
        try
        {
            ledger.Append(attributed.Select(r => new LedgerEntry(DateTimeOffset.Now, r.Host, r.Remote, r.RemoteSha,
                Path.GetFullPath(r.V.Path), r.V.Sha256, r.V.Status, r.V.Safety, r.V.Reason, Environment.UserName, r.Cell)));
        }
        catch (Exception ex) when (ex is RgtException or IOException or UnauthorizedAccessException)
        {
            warnings.Add($"The verdicts could not be recorded in the evidence ledger: {ex.Message}");
        }
        var verdicts = attributed.Select(r => r.Host is null ? r.V : r.V with { Name = r.Host, RemotePath = r.Remote }).ToList();
        return new CheckpointReport(verdicts, errors, warnings, notes);
    }
}
