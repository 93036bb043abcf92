using System.Management.Automation;
using RemoteGpuTrainer.Engine;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Ssh;
using RemoteGpuTrainer.Engine.Transfers;

namespace RemoteGpuTrainer.Commands;

/// <summary>Pushes files or a folder to hosts: temporary name, SHA-256 verified on the box, then mv into place.</summary>
[Cmdlet(VerbsCommunications.Send, "GpuFile", SupportsShouldProcess = true, DefaultParameterSetName = ByName)]
[OutputType(typeof(GpuTransfer))]
public sealed class SendGpuFileCommand : HostCmdlet
{
    [Parameter(Mandatory = true)]
    public string Path { get; set; } = "";

    /// <summary>The remote directory; created by the same operation.</summary>
    [Parameter(Mandatory = true)]
    public string Destination { get; set; } = "";

    /// <summary>Convert CRLF to LF in *.sh files before sending (bash cannot run "$'\r': command not found" scripts).</summary>
    [Parameter]
    public SwitchParameter NormalizeLineEndings { get; set; }

    [Parameter]
    [ValidateRange(0, 100)]
    public int RetryCount { get; set; } = 5;

    /// <summary>No bytes going out for this long: drop the connection and resume on a new one.</summary>
    [Parameter]
    [Duration]
    public TimeSpan StallTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Leave out matching files and folders (.git, __pycache__, *.pt); a .rgtignore at the folder's root adds its lines.</summary>
    [Parameter]
    [SupportsWildcards]
    public string[]? Exclude { get; set; }

    protected override void EndProcessing()
    {
        var local = GetUnresolvedProviderPathFromPSPath(Path);
        UploadPlan plan;
        try { plan = UploadPlan.For(local, Exclude, NormalizeLineEndings); }
        catch (RgtException ex) { ThrowFailure(ex, local); return; }
        if (plan.Excluded.Count > 0)
            WriteVerbose($"Left out {plan.Excluded.Count} file(s) by -Exclude and {ExcludeFilter.IgnoreFile}: {string.Join(", ", plan.Excluded.Take(10))}{(plan.Excluded.Count > 10 ? ", …" : "")}");
        foreach (var w in plan.Warnings) WriteWarning(w);
        var targets = Hosts.Where(h => ShouldProcess(h.Name, $"Send {plan.Count} file(s) to {Destination}")).ToList();
        using var connector = NewConnector();
        // ~ and $VARS in -Destination are resolved on each box once, to the path SFTP and the shell both use.
        var destinations = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var r in FanOut(targets, ThrottleLimit, (h, ct) => connector.ResolvePathAsync(h, Destination, ct)))
        {
            if (r.Error is not null) WriteFailure(r.Error, r.Item.Name);
            else destinations[r.Item.Name] = r.Value!;
        }
        targets = targets.Where(h => destinations.ContainsKey(h.Name)).ToList();
        // Small files travel in batches (one tar stream per host); large ones one by one, resumable.
        var work = FileSender.Work(targets, plan);
        var gates = targets.ToDictionary(h => h.Name, _ => new SemaphoreSlim(1), StringComparer.OrdinalIgnoreCase);
        var progress = new TransferProgress();
        progress.AddTotal(plan.Bytes * targets.Count);
        var record = new ProgressRecord(4, "Sending files", "starting");
        void Report()
        {
            record.PercentComplete = (int)Math.Clamp(progress.Done * 100 / Math.Max(1, progress.Total), 0, 100);
            record.StatusDescription = $"{Format.Bytes(progress.Done)} of {Format.Bytes(progress.Total)}";
            WriteProgress(record);
        }
        var options = new TransferOptions(RetryCount, StallTimeout, Log: VerboseLog);
        foreach (var r in FanOut(work, ThrottleLimit, (w, ct) => FileSender.SendAsync(connector, w, destinations[w.Host.Name], gates[w.Host.Name], options, progress, ct), Report))
        {
            if (r.Error is not null) { WriteFailure(r.Error, r.Item.Host.Name); continue; }
            foreach (var (_, t, error) in r.Value!)
                if (error is not null) WriteFailure(error, r.Item.Host.Name);
                else WriteObject(t);
        }
        record.RecordType = ProgressRecordType.Completed;
        WriteProgress(record);
    }
}
