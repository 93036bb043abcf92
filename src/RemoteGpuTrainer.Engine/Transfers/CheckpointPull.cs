using System.Collections.Concurrent;
using System.Diagnostics;
using RemoteGpuTrainer.Engine.Checkpoints;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Ssh;

namespace RemoteGpuTrainer.Engine.Transfers;

/// <summary>
/// What to pull from one host: a remote file or folder (resolved on the box), an alternative when it
/// cannot be listed (a job without a durable copy: its checkpoint dir), the local folder, the cell.
/// </summary>
public sealed record PullSource(GpuHost Host, string Remote, string? Fallback, string Local, string? Cell);

/// <summary>One thing a pull reports: a file's transfer, a host's failure, or a note.</summary>
public sealed record PullEvent(string Host, GpuTransfer? Transfer = null, Exception? Error = null, string? Warning = null, string? Verbose = null);

/// <summary>
/// Receive-Checkpoint's orchestration: every host is listed at once (one slow host never holds up
/// the others), every local path is checked to stay under its destination, the box hashes each
/// host's files in one exec while the downloads run, and every verified file is recorded in the
/// evidence ledger with its origin (host, remote path, the box's hash, cell) so that verifying it
/// later by path is evidence for the teardown gate.
/// </summary>
public sealed class CheckpointPull : IDisposable
{
    readonly HostConnector _connector;
    readonly EvidenceLedger _ledger;

    /// <param name="connector">Reaches the hosts (its options: -Verbose, the passphrase prompt, reuse); the pull owns and disposes it.</param>
    public CheckpointPull(HostConnector connector, EvidenceLedger? ledger = null)
    {
        _ledger = ledger ?? new EvidenceLedger();
        _connector = connector;
    }

    public TransferProgress Progress { get; } = new();

    sealed record Work(GpuHost Host, RemoteFile File, string Local, string? Cell);

    public IEnumerable<PullEvent> Run(IReadOnlyList<PullSource> sources, Func<string, bool> include, int throttle, TransferOptions options,
        CancellationToken ct, Action? onIdle = null)
    {
        var work = new List<Work>();
        foreach (var r in FanOut.Run(sources, throttle, (s, c) => ListAsync(s, include, c), ct, onIdle))
        {
            if (r.Error is not null) { yield return new PullEvent(r.Item.Host.Name, Error: r.Error); continue; }
            var (files, used) = r.Value!;
            if (files.Count == 0) yield return new PullEvent(r.Item.Host.Name, Warning: $"{r.Item.Host.Name}:{used} is reachable but empty: nothing to pull.");
            foreach (var w in files) { work.Add(w); Progress.AddTotal(w.File.Size); }
        }

        var hashTimes = new ConcurrentDictionary<string, (int Files, TimeSpan Took)>(StringComparer.OrdinalIgnoreCase);
        var hashes = work.GroupBy(w => w.Host.Name, StringComparer.OrdinalIgnoreCase).ToDictionary(g => g.Key, g =>
        {
            var host = g.First().Host;
            var paths = g.Select(w => w.File.Path).Distinct().ToList();
            return new Lazy<Task<Dictionary<string, string>>>(async () =>
            {
                var sw = Stopwatch.StartNew();
                var all = await BoxHashesAsync(host, paths, ct).ConfigureAwait(false);
                hashTimes[host.Name] = (paths.Count, sw.Elapsed);
                return all;
            });
        }, StringComparer.OrdinalIgnoreCase);

        foreach (var r in FanOut.Run(work, throttle, async (w, c) =>
        {
            async Task<string> Hash(CancellationToken _)
            {
                var all = await hashes[w.Host.Name].Value.ConfigureAwait(false);
                return all.GetValueOrDefault(w.File.Path)
                    ?? throw new RgtException("RemoteHashFailed", FailureKind.OperationFailed, $"{w.Host.Name}: sha256sum of {w.File.Path} failed on the box.");
            }
            // After a mismatch: the box's hash of this one file now (none when it is gone or unreadable: that is a change too).
            async Task<string?> Rehash(CancellationToken token) =>
                (await BoxHashesAsync(w.Host, new[] { w.File.Path }, token).ConfigureAwait(false)).GetValueOrDefault(w.File.Path);
            var t = await Downloader.DownloadAsync(w.Host, _connector.Target(w.Host), w.File, w.Local, Hash, options, Progress, c, _connector.Pool, Rehash).ConfigureAwait(false);
            return w.Cell is null ? t : t.WithCell(w.Cell);
        }, ct, onIdle))
        {
            if (r.Error is not null) { yield return new PullEvent(r.Item.Host.Name, Error: r.Error); continue; }
            var t = r.Value!;
            Exception? ledgerError = null;
            try { _ledger.Append(new[] { Pulled(t) }); }
            catch (Exception ex) when (ex is RgtException or IOException or UnauthorizedAccessException) { ledgerError = ex; }
            if (ledgerError is not null)
                yield return new PullEvent(t.Name, Warning: $"{t.LocalPath}: its origin could not be recorded in the evidence ledger ({ledgerError.Message}); verify it piped from Receive-Checkpoint.");
            if (t.Status == "Skipped") yield return new PullEvent(t.Name, Verbose: $"{t.LocalPath}: {t.Reason}");
            yield return new PullEvent(t.Name, Transfer: t);
        }
        foreach (var (host, (files, took)) in hashTimes)
            yield return new PullEvent(host, Verbose: $"{host}: the box's sha256sum of {files} file(s) took {took.TotalSeconds:0.00} s (cached on the box per inode, size and mtime).");
    }

    /// <summary>
    /// Where each queue cell's results go: destination/cell. Two sources never share a folder: cells of
    /// one name from two hosts (or two queues) are refused, and so is a folder whose last pull came from
    /// another host. Merging them would let one box's verdict count bytes that came from the other.
    /// </summary>
    public static (List<PullSource> Sources, List<(string Host, RgtException Error)> Refused, List<string> Warnings) ForJobs(
        IEnumerable<(GpuHost Host, GpuJob Job)> jobs, string destination, EvidenceLedger evidence)
    {
        IReadOnlyList<LedgerEntry> ledger = Array.Empty<LedgerEntry>();
        var warnings = new List<string>();
        try { ledger = evidence.Read(); }
        catch (RgtException ex) { warnings.Add($"The evidence ledger could not be read, so earlier pulls into {destination} are not checked for another host's cells: {ex.Message}"); }
        var sources = new List<PullSource>();
        var refused = new List<(string, RgtException)>();
        var planned = new List<(GpuHost Host, GpuJob Job, string Local)>();
        var notStarted = new List<string>();
        foreach (var (host, job) in jobs)
        {
            // A cell that has not started has written nothing: its folder does not exist yet, which is no failure.
            if (job.State == nameof(CellState.Pending)) { notStarted.Add($"{host.Name}/{job.QueueId}/{job.Cell}"); continue; }
            try { planned.Add((host, job, LocalPaths.Under(destination, job.Cell, host.Name))); }
            catch (RgtException ex) { refused.Add((host.Name, ex)); }
        }
        foreach (var folder in planned.GroupBy(p => p.Local, StringComparer.Ordinal))
        {
            var owners = folder.Select(p => $"{p.Host.Name}/{p.Job.QueueId}").Distinct(StringComparer.OrdinalIgnoreCase).ToList();
            var prefix = Path.GetFullPath(folder.Key) + Path.DirectorySeparatorChar;
            var earlier = ledger.LastOrDefault(e => e.Verdict == "Pulled" && e.LocalPath.StartsWith(prefix, StringComparison.Ordinal));
            foreach (var p in folder)
            {
                if (owners.Count > 1)
                    refused.Add((p.Host.Name, new RgtException("DestinationCollision", FailureKind.InvalidArgument,
                        $"{p.Host.Name}: cell '{p.Job.Cell}' would land in {folder.Key}, and so would the cell of that name of {string.Join(" and ", owners.Where(o => o != $"{p.Host.Name}/{p.Job.QueueId}"))}; nothing of it was pulled. Pull each host into its own -Destination (Get-GpuJob <host> | Receive-Checkpoint -Destination ./<host>).")));
                else if (earlier is not null && !string.Equals(earlier.Host, p.Host.Name, StringComparison.OrdinalIgnoreCase))
                    refused.Add((p.Host.Name, new RgtException("DestinationCollision", FailureKind.InvalidArgument,
                        $"{p.Host.Name}: {folder.Key} holds cell '{p.Job.Cell}' pulled from {earlier.Host}; pulling {p.Host.Name}'s cell of that name over it would mix two boxes' files. Nothing of it was pulled; use another -Destination.")));
                else if (p.Job.State == nameof(CellState.SyncFailed) || p.Job.DurableDir is null)
                    // The copy to the durable disk failed (its folder may hold half of it): the results are in the checkpoint dir.
                    sources.Add(new PullSource(p.Host, p.Job.CheckpointDir, p.Job.DurableDir, p.Local, p.Job.Cell));
                else sources.Add(new PullSource(p.Host, p.Job.DurableDir, p.Job.CheckpointDir, p.Local, p.Job.Cell));
            }
        }
        if (notStarted.Count > 0)
            warnings.Add($"{notStarted.Count} cell(s) have not started yet, so there is nothing of them to pull: {string.Join(", ", notStarted.Take(8))}{(notStarted.Count > 8 ? ", …" : "")}.");
        return (sources, refused, warnings);
    }

    /// <summary>One remote path from each host (once per name): into the destination itself for one host, into destination/host for several.</summary>
    public static (List<PullSource> Sources, List<(string Host, RgtException Error)> Refused) ForHosts(IEnumerable<GpuHost> hosts, string remotePath, string destination)
    {
        var distinct = hosts.GroupBy(h => h.Name, StringComparer.OrdinalIgnoreCase).Select(g => g.First()).ToList();
        var sources = new List<PullSource>();
        var refused = new List<(string, RgtException)>();
        foreach (var h in distinct)
        {
            try { sources.Add(new PullSource(h, remotePath, null, distinct.Count > 1 ? LocalPaths.Under(destination, h.Name, h.Name) : destination, null)); }
            catch (RgtException ex) { refused.Add((h.Name, ex)); }
        }
        return (sources, refused);
    }

    /// <summary>The box's SHA-256 of each path (hash.sh: cached there per inode, size and mtime), one round trip.</summary>
    async Task<Dictionary<string, string>> BoxHashesAsync(GpuHost host, IReadOnlyList<string> paths, CancellationToken ct)
    {
        var shell = (await _connector.OpenAsync(host, ct, resolvePaths: false).ConfigureAwait(false)).Shell;
        var output = await shell.RunAsync(RemoteFiles.HashScript(paths), TimeSpan.FromHours(2), ct).ConfigureAwait(false);
        return RemoteFiles.ParseHashOutput(output.StdOut);
    }

    /// <summary>A ledger line saying where a local file came from; Test-Checkpoint by path finds it by path and hash.</summary>
    static LedgerEntry Pulled(GpuTransfer t) =>
        new(DateTimeOffset.Now, t.Name, t.RemotePath, t.RemoteSha256, Path.GetFullPath(t.LocalPath), t.Sha256, "Pulled", null, t.Status, Environment.UserName, t.Cell);

    async Task<(List<Work> Files, string Used)> ListAsync(PullSource s, Func<string, bool> include, CancellationToken ct)
    {
        _connector.Pool.Warm(_connector.Target(s.Host), ct);
        var shell = (await _connector.OpenAsync(s.Host, ct, resolvePaths: false).ConfigureAwait(false)).Shell;
        var remote = await _connector.ResolvePathAsync(s.Host, s.Remote, ct).ConfigureAwait(false);
        List<RemoteFile> files;
        try
        {
            files = RemoteFiles.ParseListing(s.Host.Name, remote, await shell.RunAsync(RemoteFiles.ListScript(remote), TimeSpan.FromMinutes(5), ct).ConfigureAwait(false));
        }
        catch (RgtException ex) when (ex.ErrorId == "ListingFailed" && s.Fallback is not null && s.Fallback != s.Remote)
        {
            remote = await _connector.ResolvePathAsync(s.Host, s.Fallback, ct).ConfigureAwait(false);
            files = RemoteFiles.ParseListing(s.Host.Name, remote, await shell.RunAsync(RemoteFiles.ListScript(remote), TimeSpan.FromMinutes(5), ct).ConfigureAwait(false));
        }
        // Every name is checked before anything is written: one hostile record refuses the whole listing.
        var work = files.Where(f => include(f.Relative))
            .Select(f => new Work(s.Host, f, LocalPaths.Under(s.Local, f.Relative, s.Host.Name), s.Cell)).ToList();
        return (work, remote);
    }

    public void Dispose()
    {
        _connector.Dispose();
    }
}
