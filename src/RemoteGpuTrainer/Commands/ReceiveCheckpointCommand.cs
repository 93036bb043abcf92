using System.Management.Automation;
using RemoteGpuTrainer.Engine;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Ssh;
using RemoteGpuTrainer.Engine.Transfers;

namespace RemoteGpuTrainer.Commands;

/// <summary>Pulls files resumably over SFTP, verifies each by SHA-256 against the box, and renames atomically.</summary>
[Cmdlet(VerbsCommunications.Receive, "Checkpoint", DefaultParameterSetName = ByName)]
[OutputType(typeof(GpuTransfer))]
public sealed class ReceiveCheckpointCommand : RgtCmdlet
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
    public TimeSpan StallTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Files transferred at once, each over its own SFTP connection. Default 4, but no more than the
    /// local processors: one stream at full speed keeps about one core busy (decrypting, hashing,
    /// writing), and extra streams on a busy core only add switching (measured: 8 x 128 MiB on 2 cores,
    /// 92-130 MB/s with 4 at once against 156-205 with 2).
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
                    WriteFailure(new RgtException("InputNotSupported", FailureKind.InvalidArgument, $"Receive-Checkpoint takes GpuHost or GpuJob objects, not {o.BaseObject.GetType().Name}."), o);
                    break;
            }
        }
    }

    protected override void EndProcessing()
    {
        var destination = GetUnresolvedProviderPathFromPSPath(Destination);
        IReadOnlyList<GpuHost> hosts;
        if (_jobs.Count == 0 && _hosts.Count == 0) return;
        var sources = new List<(GpuHost Host, string Remote, string Local, string? Cell)>();
        if (_jobs.Count > 0)
        {
            try { hosts = Inventory.Load(); }
            catch (RgtException ex) { ThrowFailure(ex, Inventory.FilePath); return; }
            foreach (var j in _jobs)
            {
                var h = FindHost(hosts, j.Name);
                if (h is null) continue;
                sources.Add((h, j.DurableDir ?? j.CheckpointDir, Path.Combine(destination, j.Cell), j.Cell));
            }
        }
        else
        {
            if (string.IsNullOrEmpty(RemotePath)) { ThrowFailure(new RgtException("RemotePathMissing", FailureKind.InvalidArgument, "Give -RemotePath, or pipe GpuJob objects from Get-GpuJob."), null); return; }
            var distinct = _hosts.GroupBy(h => h.Name, StringComparer.OrdinalIgnoreCase).Select(g => g.First()).ToList();
            foreach (var h in distinct) sources.Add((h, RemotePath!, distinct.Count > 1 ? Path.Combine(destination, h.Name) : destination, null));
        }

        using var connector = new HostConnector();
        using var pool = new SftpPool();
        var work = new List<(GpuHost Host, RemoteFile File, string Local, string? Cell)>();
        var progress = new TransferProgress();
        foreach (var src in sources)
        {
            try
            {
                pool.Warm(SshTarget.Resolve(src.Host), Cancellation);
                var shell = connector.ConnectAsync(src.Host, Cancellation).GetAwaiter().GetResult();
                var files = List(shell, src, out var usedRemote);
                var filtered = files.Where(f => Matches(f.Relative)).ToList();
                if (files.Count == 0) WriteWarning($"{src.Host.Name}:{usedRemote} is reachable but empty: nothing to pull.");
                foreach (var f in filtered)
                {
                    work.Add((src.Host, f, Path.Combine(src.Local, f.Relative.Replace('/', Path.DirectorySeparatorChar)), src.Cell));
                    progress.AddTotal(f.Size);
                }
            }
            catch (Exception ex) when (ex is RgtException or OperationCanceledException) { WriteFailure(ex, src.Host.Name); }
        }
        var record = new ProgressRecord(3, "Receiving checkpoints", "starting");
        var started = DateTime.UtcNow;
        void Report()
        {
            var done = progress.Done; var total = Math.Max(1, progress.Total);
            var secs = Math.Max(0.001, (DateTime.UtcNow - started).TotalSeconds);
            var rate = done / secs;
            record.PercentComplete = (int)Math.Clamp(done * 100 / total, 0, 100);
            record.StatusDescription = $"{Format.Bytes(done)} of {Format.Bytes(total)} at {Format.Bytes((long)rate)}/s";
            record.SecondsRemaining = rate > 0 ? (int)((total - done) / rate) : -1;
            WriteProgress(record);
        }
        var options = new TransferOptions(RetryCount, StallTimeout, ConnectionsPerFile: MyInvocation.BoundParameters.ContainsKey(nameof(ConnectionsPerFile)) ? ConnectionsPerFile : null);
        // The box hashes every listed file of a host in one exec (cached per size and mtime there),
        // started by the first file that needs a hash and running while the downloads proceed.
        var hashTimes = new System.Collections.Concurrent.ConcurrentDictionary<string, (int Files, TimeSpan Took)>(StringComparer.OrdinalIgnoreCase);
        var hashes = work.GroupBy(w => w.Host.Name, StringComparer.OrdinalIgnoreCase).ToDictionary(g => g.Key, g =>
        {
            var host = g.First().Host;
            var paths = g.Select(w => w.File.Path).Distinct().ToList();
            return new Lazy<Task<Dictionary<string, string>>>(async () =>
            {
                var sw = System.Diagnostics.Stopwatch.StartNew();
                var shell = await connector.ConnectAsync(host, Cancellation).ConfigureAwait(false);
                var output = await shell.RunAsync(RemoteFiles.HashScript(paths), TimeSpan.FromHours(2), Cancellation).ConfigureAwait(false);
                hashTimes[host.Name] = (paths.Count, sw.Elapsed);
                return RemoteFiles.ParseHashes(output.StdOut);
            });
        }, StringComparer.OrdinalIgnoreCase);
        foreach (var r in FanOut.Run(work, ThrottleLimit, async (w, ct) =>
        {
            async Task<string> Hash(CancellationToken c)
            {
                var all = await hashes[w.Host.Name].Value.ConfigureAwait(false);
                return all.GetValueOrDefault(w.File.Path)
                    ?? throw new RgtException("RemoteHashFailed", FailureKind.OperationFailed, $"{w.Host.Name}: sha256sum of {w.File.Path} failed on the box.");
            }
            var t = await Downloader.DownloadAsync(w.Host, SshTarget.Resolve(w.Host), w.File, w.Local, Hash, options, progress, ct, pool).ConfigureAwait(false);
            return w.Cell is null ? t : new GpuTransfer
            {
                Name = t.Name, Cell = w.Cell, RemotePath = t.RemotePath, LocalPath = t.LocalPath, Length = t.Length, Sha256 = t.Sha256,
                Resumed = t.Resumed, Attempts = t.Attempts, Connections = t.Connections, Duration = t.Duration, Status = t.Status, Reason = t.Reason,
            };
        }, Cancellation, Report))
        {
            Report();
            if (r.Error is not null) WriteFailure(r.Error, r.Item.Host.Name);
            else
            {
                if (r.Value!.Status == "Skipped") WriteVerbose($"{r.Value.LocalPath}: {r.Value.Reason}");
                WriteObject(r.Value);
            }
        }
        record.RecordType = ProgressRecordType.Completed;
        WriteProgress(record);
        foreach (var (host, (files, took)) in hashTimes)
            WriteVerbose($"{host}: the box's sha256sum of {files} file(s) took {took.TotalSeconds:0.00} s (cached on the box per size and mtime).");
    }

    List<RemoteFile> List(SshConnection shell, (GpuHost Host, string Remote, string Local, string? Cell) src, out string used)
    {
        used = src.Remote;
        var output = shell.RunAsync(RemoteFiles.ListScript(src.Remote), TimeSpan.FromMinutes(5), Cancellation).GetAwaiter().GetResult();
        if (output.ExitCode == 0) return RemoteFiles.ParseList(src.Remote, output.StdOut);
        if (src.Cell is not null)
        {
            // A job without a durable copy: pull its checkpoint directory instead.
            var job = _jobs.FirstOrDefault(j => j.Cell == src.Cell && string.Equals(j.Name, src.Host.Name, StringComparison.OrdinalIgnoreCase));
            if (job is not null && job.CheckpointDir != src.Remote)
            {
                used = job.CheckpointDir;
                var again = shell.RunAsync(RemoteFiles.ListScript(job.CheckpointDir), TimeSpan.FromMinutes(5), Cancellation).GetAwaiter().GetResult();
                if (again.ExitCode == 0) return RemoteFiles.ParseList(job.CheckpointDir, again.StdOut);
                output = again;
            }
        }
        throw new RgtException("ListingFailed", FailureKind.NotFound,
            $"{src.Host.Name}: cannot list {used}: {(output.StdErr + output.StdOut).Trim()} (a failed listing is never '0 files').");
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
