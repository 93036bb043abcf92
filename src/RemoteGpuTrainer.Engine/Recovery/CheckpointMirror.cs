using System.Text.Json;
using RemoteGpuTrainer.Engine.Checkpoints;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Parsing;
using RemoteGpuTrainer.Engine.Queues;
using RemoteGpuTrainer.Engine.Scripts;
using RemoteGpuTrainer.Engine.Ssh;
using RemoteGpuTrainer.Engine.Transfers;

namespace RemoteGpuTrainer.Engine.Recovery;

/// <summary>
/// Keeps a local copy of each running cell's newest checkpoint while the queue runs, so a rental taken
/// back loses no more than one tick of training. One round trip a tick asks the box for the artifacts'
/// hashes (cached there: an unchanged file is not read again); only a file whose hash differs from the
/// mirrored one is pulled (resumable, SHA-256 checked), and it replaces the mirrored copy only when it
/// opens as a safe checkpoint. A file the trainer is still writing, a torn one or an unsafe one never
/// does: the last good copy stays. Each mirrored copy is a ledger line with host, remote path, box hash,
/// cell and epoch.
/// </summary>
public static class CheckpointMirror
{
    /// <summary>A file modified this recently may be half saved; it waits for the next tick.</summary>
    public static readonly TimeSpan Settle = TimeSpan.FromSeconds(2);

    /// <summary>What the mirror holds of one artifact: the box's hash it was taken at, and its epoch.</summary>
    public sealed record Copy(string RemotePath, string RemoteSha256, long? Epoch, DateTimeOffset MirroredAt);

    /// <param name="Source">What to pull: the probe's hard link of the file (the version it hashed), or the file itself.</param>
    /// <param name="FineMTime">The mtime with its fraction of a second where the box's stat gives one, else <paramref name="MTime"/>.</param>
    public sealed record BoxFile(int Index, string Name, long Size, long MTime, string Sha256, string Source, double FineMTime);

    /// <summary>Where the probe keeps its links of the files it hashed, one folder per queue on the data disk.</summary>
    public static string SnapshotDir(GpuHost host, string queueId) => $"{Queues.QueueScripts.DataDir(host).TrimEnd('/')}/.rgt/mirror/{queueId}";

    public static string Script(IReadOnlyList<GpuJob> running, RecoveryPolicy policy, GpuHost host) =>
        BoxScript.Load("mirror-probe").Set("NAMES", string.Join("\n", policy.Artifacts)).Set("SETTLE", (long)Settle.TotalSeconds)
            .Set("SNAP", SnapshotDir(host, policy.QueueId))
            .Arguments(running.SelectMany(j => new[] { j.Index.ToString(System.Globalization.CultureInfo.InvariantCulture), j.CheckpointDir })).Command;

    /// <summary>The probe's answer: the files it hashed, and the (index, name) pairs it found still being written.</summary>
    public static (List<BoxFile> Files, List<(int Index, string Name)> Busy) Parse(GpuHost host, CommandOutput output)
    {
        var s = ProbeSections.Parse(output.StdOut);
        if (s.ExitCode("mirror") != 0)
            throw new RgtException("MirrorProbeFailed", FailureKind.OperationFailed,
                $"{host.Name}: the checkpoint mirror's probe did not finish (status {s.ExitCode("mirror")?.ToString() ?? "none"}): {(s.Has("mirror") ? s["mirror"] : output.StdErr).Trim()}");
        var files = new List<BoxFile>();
        var busy = new List<(int, string)>();
        foreach (var f in s["mirror"].Split('\n').Select(l => l.Split('\t')))
        {
            if (f is ["FILE", var i, var name, var size, var mtime, var sha, var source] && int.TryParse(i, out var index) && long.TryParse(size, out var n)
                && double.TryParse(mtime, System.Globalization.NumberStyles.AllowDecimalPoint, System.Globalization.CultureInfo.InvariantCulture, out var m)
                && sha.Length == 64 && sha.All(char.IsAsciiHexDigitLower) && source.StartsWith('/'))
                files.Add(new BoxFile(index, name, n, (long)Math.Floor(m), sha, source, m));
            else if (f is ["BUSY", var bi, var bname] && int.TryParse(bi, out var bindex))
                busy.Add((bindex, bname));
        }
        return (files, busy);
    }

    static string SidecarOf(string local) => local + ".rgt-mirror.json";

    public static Copy? Mirrored(string local)
    {
        try { return File.Exists(local) && File.Exists(SidecarOf(local)) ? JsonSerializer.Deserialize<Copy>(File.ReadAllText(SidecarOf(local))) : null; }
        catch (JsonException) { return null; }
    }

    /// <summary>
    /// The epoch a recovery goes on from: that of the mirrored resume artifact (latest.pth; the trainer resumes from it),
    /// else the newest of the others; null when nothing is mirrored yet. (best.pth may be mirrored at a later epoch than a
    /// latest.pth that was still being saved at the last look; the trainer does not go on from it.)
    /// </summary>
    public static long? LastEpoch(RecoveryPolicy policy, int index, string cell) =>
        Mirrored(Path.Combine(policy.CellDirectory(index, cell), policy.Artifacts[0]))?.Epoch
        ?? policy.Artifacts.Skip(1).Select(a => Mirrored(Path.Combine(policy.CellDirectory(index, cell), a))?.Epoch).Max();

    /// <summary>Fills each cell's LastMirroredEpoch and MirrorDir for queues with a policy; an unreadable policy leaves them empty (the mirror tick reports it).</summary>
    public static void Annotate(IReadOnlyList<GpuJob> jobs, string host, RecoveryStore store)
    {
        foreach (var g in jobs.GroupBy(j => j.QueueId))
        {
            RecoveryPolicy? policy;
            try { policy = store.Find(host, g.Key); }
            catch (RgtException) { continue; }
            if (policy is null) continue;
            var journal = new RecoveryJournal(store.JournalOf(host, g.Key)).Read();
            foreach (var j in g)
            {
                j.MirrorDir = policy.CellDirectory(j.Index, j.Cell);
                j.LastMirroredEpoch = LastEpoch(policy, j.Index, j.Cell);
                j.Recoveries = RecoveryJournal.Recoveries(journal);
                (j.ResumedFromEpoch, _, j.ResumeProven) = RecoveryJournal.Resume(journal, j.Cell);
                j.RecoveredFrom = RecoveryJournal.Chain(journal, j.Cell, j.LastMirroredEpoch);
            }
        }
    }

    /// <summary>
    /// One tick for one host after its cells were read: mirrors the running cells of each of its queues that
    /// has a recovery policy. A policy that cannot be read is an error, never "nothing to mirror".
    /// </summary>
    public static async Task<List<GpuCheckpointMirror>> ForQueuesAsync(HostConnector connector, GpuHost host, IReadOnlyList<GpuJob> jobs,
        RecoveryStore store, EvidenceLedger ledger, CancellationToken ct)
    {
        var results = new List<GpuCheckpointMirror>();
        var guarded = new List<GpuJob>();
        foreach (var queueId in jobs.Select(j => j.QueueId).Distinct())
            if (store.Find(host.Name, queueId) is { } policy)
            {
                guarded.AddRange(jobs.Where(j => j.QueueId == queueId));
                results.AddRange(await TickAsync(connector, host, jobs, policy, ledger, new TransferOptions(RetryCount: 2), ct,
                    new RecoveryJournal(store.JournalOf(host.Name, queueId))).ConfigureAwait(false));
            }
        // What the tick saw is what a recovery later knows of the cells (which had finished, their epochs) once the box is gone.
        if (guarded.Count > 0) new QueueCache().Record(guarded);
        return results;
    }

    /// <summary>One tick for one host: mirrors every running cell of the policy's queue.</summary>
    /// <param name="journal">The queue's recovery journal: a cell that is to go on from a recorded epoch gets its resume judged by its first new copy.</param>
    public static async Task<List<GpuCheckpointMirror>> TickAsync(HostConnector connector, GpuHost host, IReadOnlyList<GpuJob> jobs, RecoveryPolicy policy,
        EvidenceLedger ledger, TransferOptions options, CancellationToken ct, RecoveryJournal? journal = null)
    {
        var running = jobs.Where(j => j.QueueId == policy.QueueId && j.State == nameof(CellState.Running) && j.CheckpointDir.Length > 0).ToList();
        var results = new List<GpuCheckpointMirror>();
        if (running.Count == 0) return results;
        var (shell, resolved, _) = await connector.OpenAsync(host, ct).ConfigureAwait(false);
        var (files, busy) = Parse(resolved, await shell.RunAsync(Script(running, policy, resolved), TimeSpan.FromMinutes(10), ct).ConfigureAwait(false));
        GpuCheckpointMirror Result(GpuJob j, string file, string status, long? epoch = null, string? local = null, string? reason = null) => new()
        {
            Name = host.Name, QueueId = j.QueueId, Cell = j.Cell, File = file, Status = status, Epoch = epoch, LocalPath = local,
            RemotePath = j.CheckpointDir.TrimEnd('/') + "/" + file, Reason = reason,
        };
        foreach (var (index, name) in busy)
            if (running.FirstOrDefault(j => j.Index == index) is { } j)
                results.Add(Result(j, name, "Busy", reason: $"written in the last {Settle.TotalSeconds:0} s: it may be half saved"));
        foreach (var f in files)
        {
            if (running.FirstOrDefault(j => j.Index == f.Index) is not { } job || !policy.Artifacts.Contains(f.Name)) continue;
            var local = Path.Combine(policy.CellDirectory(job.Index, job.Cell), f.Name);
            var remotePath = job.CheckpointDir.TrimEnd('/') + "/" + f.Name;
            if (Mirrored(local) is { } had && had.RemoteSha256 == f.Sha256)
            {
                results.Add(Result(job, f.Name, "Unchanged", had.Epoch, local));
                continue;
            }
            var (status, epoch, reason) = await PullAsync(connector, resolved, job, f, remotePath, local, ledger, options, ct).ConfigureAwait(false);
            if (status == "Mirrored" && f.Name == policy.Artifacts[0] && journal is not null && Judge(journal, ledger, local, job.Cell) is { } verdict)
            {
                status = verdict.Proven ? "ResumeProven" : "ResumeNotProven";
                reason = verdict.Text;
            }
            results.Add(Result(job, f.Name, status, epoch, local, reason));
        }
        return results;
    }

    const string MirroredReason = "mirrored while the cell ran";

    /// <summary>A relaunched cell's resume, judged once (<see cref="ResumeJudge"/>) by its copies in the ledger; the verdict goes in the journal.</summary>
    static ResumeJudge.Verdict? Judge(RecoveryJournal journal, EvidenceLedger ledger, string local, string cell)
    {
        var entries = journal.Read();
        if (RecoveryJournal.Resume(entries, cell) is not (_, not null, null)) return null;
        var copies = ledger.Read().Where(e => e.LocalPath == local && e.Reason == MirroredReason).ToList();
        if (ResumeJudge.Judge(entries, copies, cell) is not { } verdict) return null;
        journal.Add(new JournalEntry(DateTimeOffset.UtcNow, verdict.Proven ? "proven" : "not-proven", cell, verdict.Epoch, verdict.Text));
        return verdict;
    }

    static async Task<(string Status, long? Epoch, string? Reason)> PullAsync(HostConnector connector, GpuHost host, GpuJob job, BoxFile f, string remotePath, string local,
        EvidenceLedger ledger, TransferOptions options, CancellationToken ct)
    {
        var incoming = Path.Combine(Path.GetDirectoryName(local)!, ".incoming", f.Name);
        try
        {
            await Downloader.DownloadAsync(host, connector.Target(host), new RemoteFile(f.Source, f.Name, f.Size, f.MTime), incoming,
                _ => Task.FromResult(f.Sha256), options, new TransferProgress(), ct, connector.Pool).ConfigureAwait(false);
        }
        catch (RgtException ex)
        {
            // It changed while it was read (the trainer saved again), or the link failed: the next tick tries again.
            Discard(incoming);
            return ("Refused", Mirrored(local)?.Epoch, $"it did not arrive whole ({ex.ErrorId}): the last good copy is kept");
        }
        var v = CheckpointVerifier.VerifyFile(incoming, TrustOptions.None, f.Name);
        if (v.Status != "Verified")
        {
            Discard(incoming);
            return ("Refused", Mirrored(local)?.Epoch, $"it does not open as a safe checkpoint ({v.Reason}): the last good copy is kept");
        }
        File.Move(incoming, local, overwrite: true);
        // Negative: the file is older than the cell's run (left by an earlier one, or pushed by a recovery).
        double? runSeconds = job.StartedAt is { } started && f.MTime >= started.ToUnixTimeSeconds() ? f.FineMTime - started.ToUnixTimeSeconds() : null;
        FileLock.WriteAllTextAtomic(SidecarOf(local), JsonSerializer.Serialize(new Copy(remotePath, f.Sha256, v.Epoch, DateTimeOffset.UtcNow)));
        ledger.Append(new[]
        {
            new LedgerEntry(DateTimeOffset.UtcNow, host.Name, remotePath, f.Sha256, local, f.Sha256, "Verified", v.Safety, MirroredReason,
                Environment.UserName, job.Cell, v.Epoch, runSeconds),
        });
        return ("Mirrored", v.Epoch, null);
    }

    static void Discard(string incoming)
    {
        foreach (var p in new[] { incoming, incoming + Downloader.PartialSuffix, incoming + Downloader.PartialSuffix + ".json" })
            if (File.Exists(p)) File.Delete(p);
    }
}
