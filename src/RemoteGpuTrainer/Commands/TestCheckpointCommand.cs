using System.Management.Automation;
using RemoteGpuTrainer.Engine;
using RemoteGpuTrainer.Engine.Checkpoints;
using RemoteGpuTrainer.Engine.Model;

namespace RemoteGpuTrainer.Commands;

/// <summary>Opens checkpoints without executing them and records each verdict in the evidence ledger.</summary>
[Cmdlet(VerbsDiagnostic.Test, "Checkpoint", DefaultParameterSetName = ByPath)]
[OutputType(typeof(CheckpointVerification))]
public sealed class TestCheckpointCommand : RgtCmdlet
{
    const string ByPath = "ByPath";
    const string ByObject = "ByObject";
    readonly List<(string Path, GpuTransfer? Transfer)> _inputs = new();

    [Parameter(ParameterSetName = ByPath, Mandatory = true, Position = 0)]
    public string[] Path { get; set; } = Array.Empty<string>();

    /// <summary>GpuTransfer (from Receive-Checkpoint), FileInfo or DirectoryInfo objects.</summary>
    [Parameter(ParameterSetName = ByObject, Mandatory = true, ValueFromPipeline = true)]
    public PSObject[] InputObject { get; set; } = Array.Empty<PSObject>();

    /// <summary>Fail when the number of cell folders differs (a partial pull must not pass).</summary>
    [Parameter]
    [ValidateRange(0, int.MaxValue)]
    public int? Expect { get; set; }

    [Parameter]
    public string Artifact { get; set; } = "best.pth";

    [Parameter]
    public string MetricsFile { get; set; } = "best_metrics.json";

    /// <summary>Globals you trust in your own files (wildcards), e.g. numpy.*, argparse.Namespace.</summary>
    [Parameter]
    [SupportsWildcards]
    public string[] TrustGlobal { get; set; } = Array.Empty<string>();

    /// <summary>Accept every NeedsTrust global (your own files); Unsafe ones still fail.</summary>
    [Parameter]
    public SwitchParameter TrustNonTensorObjects { get; set; }

    protected override void ProcessRecord()
    {
        if (ParameterSetName == ByPath)
        {
            foreach (var p in Path) _inputs.Add((GetUnresolvedProviderPathFromPSPath(p), null));
            return;
        }
        foreach (var o in InputObject)
        {
            switch (o.BaseObject)
            {
                case GpuTransfer t: _inputs.Add((t.LocalPath, t)); break;
                case FileInfo f when !IsCheckpointFile(f.FullName): WriteVerbose($"{f.FullName}: not a checkpoint file (metrics, logs and other data are skipped)."); break;
                case FileSystemInfo f: _inputs.Add((f.FullName, null)); break;
                case string s: _inputs.Add((GetUnresolvedProviderPathFromPSPath(s), null)); break;
                default: WriteFailure(new RgtException("InputNotSupported", FailureKind.InvalidArgument, $"Test-Checkpoint takes paths, pulled files (Receive-Checkpoint) or files and folders (Get-ChildItem), not '{o}'."), o); break;
            }
        }
    }

    protected override void EndProcessing()
    {
        var trust = new TrustOptions(TrustGlobal, TrustNonTensorObjects);
        var results = new List<(CheckpointVerification V, GpuTransfer? T)>();
        int cellFolders = 0;
        bool anyFolderInput = false;
        foreach (var (path, transfer) in _inputs)
        {
            if (transfer is not null)
            {
                // A pulled file: verify the file itself; metrics and logs are data, not checkpoints.
                if (!IsCheckpointFile(path)) { WriteVerbose($"{path}: not a checkpoint file (metrics, logs and other data are skipped)."); continue; }
                // A cell's artifact is checked with its folder, so the metric is reported in this form too.
                var v = transfer.Cell is not null && string.Equals(System.IO.Path.GetFileName(path), Artifact, StringComparison.Ordinal)
                    ? CheckpointFolders.VerifyCell(System.IO.Path.GetDirectoryName(path)!, Artifact, MetricsFile, trust)
                    : CheckpointVerifier.VerifyFile(path, trust, transfer.Cell ?? System.IO.Path.GetFileName(path));
                results.Add((v, transfer));
                continue;
            }
            List<string> cells, files;
            try { (cells, files) = CheckpointFolders.Discover(path, Artifact); }
            catch (RgtException ex) { WriteFailure(ex, path); continue; }
            if (Directory.Exists(path)) anyFolderInput = true;
            cellFolders += cells.Count;
            if (cells.Count == 0 && files.Count == 0)
            {
                WriteFailure(new RgtException("CheckpointFolderEmpty", FailureKind.InvalidData, $"{path} holds no cell folder and no checkpoint file: an empty pull is a failure, not '0 of 0 OK'."), path);
                results.Add((new CheckpointVerification { Cell = System.IO.Path.GetFileName(path), Path = path, Status = "Failed", Reason = "empty: nothing to verify" }, null));
                continue;
            }
            foreach (var c in cells) results.Add((CheckpointFolders.VerifyCell(c, Artifact, MetricsFile, trust), null));
            foreach (var f in files) results.Add((CheckpointVerifier.VerifyFile(f, trust), null));
        }
        // -Expect holds in every form: folders count their cell folders; piped pulls count the cells they carry.
        var piped = results.Where(r => r.T is not null).ToList();
        var counted = anyFolderInput ? cellFolders
            : piped.Select(r => r.T!.Cell ?? System.IO.Path.GetDirectoryName(r.V.Path)).Distinct(StringComparer.Ordinal).Count();
        if (Expect is not null && counted != Expect)
            WriteFailure(new RgtException("CheckpointCountMismatch", FailureKind.InvalidData,
                $"expected {Expect} cells, found {counted}: the pull is incomplete or the queue had other cells."), string.Join(", ", _inputs.Select(i => i.Path).Distinct()));

        // A file verified by path carries the origin Receive-Checkpoint recorded for it (same path, same hash).
        var ledger = new EvidenceLedger();
        IReadOnlyList<LedgerEntry> known = Array.Empty<LedgerEntry>();
        try { known = ledger.Read(); }
        catch (RgtException ex) { WriteWarning($"The evidence ledger could not be read, so files verified by path carry no origin: {ex.Message}"); }
        var withOrigin = results.Select(r => EvidenceLedger.Attribute(known, r.V, r.T)).ToList();
        var user = Environment.UserName;
        try
        {
            ledger.Append(withOrigin.Select(r => new LedgerEntry(DateTimeOffset.Now, r.Host, r.Remote, r.RemoteSha,
                System.IO.Path.GetFullPath(r.V.Path), r.V.Sha256, r.V.Status, r.V.Safety, r.V.Reason, user, r.Cell)));
        }
        catch (Exception ex) when (ex is RgtException or IOException or UnauthorizedAccessException)
        {
            WriteWarning($"The verdicts could not be recorded in the evidence ledger: {ex.Message}");
        }
        foreach (var r in withOrigin)
        {
            if (r.Host is null) { WriteObject(r.V); continue; }
            WriteObject(r.V with { Name = r.Host, RemotePath = r.Remote });
        }
    }

    static bool IsCheckpointFile(string path) => CheckpointFolders.IsCheckpointFile(path);
}
