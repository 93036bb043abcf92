using System.Management.Automation;
using RemoteGpuTrainer.Engine;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Ssh;
using RemoteGpuTrainer.Engine.Transfers;

namespace RemoteGpuTrainer.Commands;

/// <summary>Pulls files resumably over SFTP, verifies each by SHA-256 against the box, and renames atomically.</summary>
[Cmdlet(VerbsCommunications.Receive, "Checkpoint", DefaultParameterSetName = ByName)]
[OutputType(typeof(GpuTransfer))]
public sealed class ReceiveCheckpointCommand : SshCmdlet
{
    const string ByName = "ByName";
    const string ByObject = "ByObject";
    readonly List<GpuJob> _jobs = new();
    readonly List<GpuHost> _hosts = new();

    [Parameter(ParameterSetName = ByName, Mandatory = true, Position = 0)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(HostNameCompleter))]
    public string[] Name { get; set; } = Array.Empty<string>();

    /// <summary>GpuHost objects (pull -RemotePath from each) or GpuJob objects (pull that cell's durable copy, else its checkpoint dir).</summary>
    [Parameter(ParameterSetName = ByObject, Mandatory = true, ValueFromPipeline = true)]
    public PSObject[] InputObject { get; set; } = Array.Empty<PSObject>();

    /// <summary>A remote file or folder; a leading ~/ is the remote home.</summary>
    [Parameter(Position = 1)]
    public string? RemotePath { get; set; }

    [Parameter]
    public string Destination { get; set; } = ".";

    [Parameter]
    [SupportsWildcards]
    public string[]? Include { get; set; }

    [Parameter]
    [SupportsWildcards]
    public string[]? Exclude { get; set; }

    [Parameter]
    [ValidateRange(0, 100)]
    public int RetryCount { get; set; } = 5;

    /// <summary>No bytes for this long: drop the connection and resume on a new one.</summary>
    [Parameter]
    [Duration]
    public TimeSpan StallTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Files transferred at once, each over its own SFTP connection. Default 4, but no more than the
    /// local processors: one stream at full speed keeps about one core busy (decrypting, hashing,
    /// writing), and extra streams on a busy core only add switching (bench/MEASUREMENTS.md, "Files at once").
    /// </summary>
    [Parameter]
    [ValidateRange(1, 64)]
    public int ThrottleLimit { get; set; } = Math.Min(4, Environment.ProcessorCount);

    /// <summary>Connections reading one large file at once (each a range of it); default: from the measured round trip.</summary>
    [Parameter]
    [ValidateRange(1, 8)]
    public int ConnectionsPerFile { get; set; }

    protected override void ProcessRecord()
    {
        if (ParameterSetName == ByName) { _hosts.AddRange(ResolveHostNames(Name)); return; }
        foreach (var o in InputObject)
        {
            switch (o.BaseObject)
            {
                case GpuJob j: _jobs.Add(j); break;
                case GpuHost h: _hosts.Add(h); break;
                default:
                    WriteFailure(new RgtException("InputNotSupported", FailureKind.InvalidArgument, $"Receive-Checkpoint takes hosts (Get-GpuHost) or jobs (Get-GpuJob), not '{o}'. Pipe Get-GpuJob | Receive-Checkpoint, or give a host name and -RemotePath."), o);
                    break;
            }
        }
    }

    protected override void EndProcessing()
    {
        if (_jobs.Count == 0 && _hosts.Count == 0) return;
        var destination = GetUnresolvedProviderPathFromPSPath(Destination);
        var sources = new List<PullSource>();
        if (_jobs.Count > 0)
        {
            IReadOnlyList<GpuHost> hosts;
            try { hosts = Inventory.Load(); }
            catch (RgtException ex) { ThrowFailure(ex, Inventory.FilePath); return; }
            var found = _jobs.Select(j => (Host: FindHost(hosts, j.Name), Job: j)).Where(p => p.Host is not null).Select(p => (p.Host!, p.Job));
            var (planned, refused, warnings) = CheckpointPull.ForJobs(found, destination, new Engine.Checkpoints.EvidenceLedger());
            foreach (var w in warnings) WriteWarning(w);
            foreach (var (host, error) in refused) WriteFailure(error, host);
            sources.AddRange(planned);
        }
        else
        {
            if (string.IsNullOrEmpty(RemotePath)) { ThrowFailure(new RgtException("RemotePathMissing", FailureKind.InvalidArgument, "Give -RemotePath, or pipe GpuJob objects from Get-GpuJob."), null); return; }
            var (planned, refused) = CheckpointPull.ForHosts(_hosts, RemotePath!, destination);
            foreach (var (host, error) in refused) WriteFailure(error, host);
            sources.AddRange(planned);
        }

        using var pull = new CheckpointPull(NewConnector());
        var record = new ProgressRecord(3, "Receiving checkpoints", "listing");
        var started = DateTime.UtcNow;
        void Report()
        {
            FlushVerbose();
            var done = pull.Progress.Done; var total = Math.Max(1, pull.Progress.Total);
            var secs = Math.Max(0.001, (DateTime.UtcNow - started).TotalSeconds);
            var rate = done / secs;
            record.PercentComplete = (int)Math.Clamp(done * 100 / total, 0, 100);
            record.StatusDescription = $"{Format.Bytes(done)} of {Format.Bytes(total)} at {Format.Bytes((long)rate)}/s";
            record.SecondsRemaining = rate > 0 ? (int)((total - done) / rate) : -1;
            WriteProgress(record);
        }
        var options = new TransferOptions(RetryCount, StallTimeout, ConnectionsPerFile: MyInvocation.BoundParameters.ContainsKey(nameof(ConnectionsPerFile)) ? ConnectionsPerFile : null);
        foreach (var e in pull.Run(sources, Matches, ThrottleLimit, options, Cancellation, Report))
        {
            if (e.Error is not null) WriteFailure(e.Error, e.Host);
            if (e.Warning is not null) WriteWarning(e.Warning);
            if (e.Verbose is not null) WriteVerbose(e.Verbose);
            if (e.Transfer is not null) { Report(); WriteObject(e.Transfer); }
        }
        FlushVerbose();
        record.RecordType = ProgressRecordType.Completed;
        WriteProgress(record);
    }

    bool Matches(string relative)
    {
        var name = Path.GetFileName(relative);
        bool Any(string[]? patterns) => patterns is not null && patterns.Any(p =>
        {
            var w = new WildcardPattern(p, WildcardOptions.IgnoreCase);
            return w.IsMatch(name) || w.IsMatch(relative);
        });
        return (Include is null || Any(Include)) && !Any(Exclude);
    }
}
