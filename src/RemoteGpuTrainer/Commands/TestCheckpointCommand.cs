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
        var report = CheckpointCheck.Run(_inputs.Select(i => new CheckpointInput(i.Path, i.Transfer)).ToList(),
            new TrustOptions(TrustGlobal, TrustNonTensorObjects), Artifact, MetricsFile, Expect, new EvidenceLedger());
        foreach (var n in report.Notes) WriteVerbose(n);
        foreach (var (target, error) in report.Errors) WriteFailure(error, target);
        foreach (var w in report.Warnings) WriteWarning(w);
        foreach (var v in report.Verdicts) WriteObject(v);
    }

    static bool IsCheckpointFile(string path) => CheckpointFolders.IsCheckpointFile(path);
}
