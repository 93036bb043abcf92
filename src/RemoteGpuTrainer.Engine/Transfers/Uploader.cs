using System.Diagnostics;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Ssh;
using System.Globalization;
using RemoteGpuTrainer.Engine.Scripts;
using Renci.SshNet;

namespace RemoteGpuTrainer.Engine.Transfers;

/// <summary>
/// The same contract as a pull, the other way: upload to a hidden temporary name beside the target,
/// resume an unchanged partial (also after a dropped connection within the run), verify with the
/// box's SHA-256, set the local file's mode bits (like scp -p: a pushed run.sh stays executable),
/// then rename with mv. The bytes travel over exec channels (upload.sh write) on pooled connections,
/// like a near pull (SSH.NET's SFTP layer costs CPU per request); the short steps use the host's shared connection.
/// </summary>
public static class Uploader
{
    /// <param name="control">The host's shared connection (one command at a time, through <paramref name="controlGate"/>) for the short steps.</param>
    /// <param name="pool">Connections for the bytes: one per part, reused by the next file (SSH.NET clients are not shared between threads).</param>
    public static async Task<GpuTransfer> UploadAsync(GpuHost host, SshTarget target, SshConnection control, SemaphoreSlim controlGate, ConnectionPool pool,
        string localPath, byte[]? content, string remoteDir, string remoteName, TransferOptions options, TransferProgress progress, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        Stream Open() => content is not null ? new MemoryStream(content, writable: false) : new FileStream(localPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        var length = content?.LongLength ?? new FileInfo(localPath).Length;
        // The local hash runs while the box answers the probe and the connections for the bytes open.
        using var hashStop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var hashing = Task.Run(async () =>
        {
            using var s = Open();
            return Convert.ToHexString(await System.Security.Cryptography.SHA256.HashDataAsync(s, hashStop.Token).ConfigureAwait(false)).ToLowerInvariant();
        }, hashStop.Token);
        var final = remoteDir.TrimEnd('/') + "/" + remoteName;
        var partial = remoteDir.TrimEnd('/') + "/." + remoteName + ".rgt-partial";
        var perms = Permissions(localPath);
        string localSha = "", tag = "";

        var lastStep = TimeSpan.Zero;
        async Task<string[][]> Run(string step, Func<Stream, CancellationToken, Task>? input = null, long offset = 0, SshConnection? writer = null)
        {
            var script = BoxScript.Load("upload").Set("MODE_STEP", step).Set("DIR", remoteDir).Set("FINAL", final).Set("PARTIAL", partial)
                .Set("SHA", localSha).Set("LENGTH", length).Set("PERMS", perms).Set("OFFSET", offset).Set("TAG", tag).Command;
            var gate = writer is null ? controlGate : null;
            if (gate is not null) await gate.WaitAsync(ct).ConfigureAwait(false);
            CommandOutput output;
            var took = Stopwatch.StartNew();
            try
            {
                output = writer is null || input is null
                    ? await (writer ?? control).RunAsync(script, TimeSpan.FromMinutes(30), ct).ConfigureAwait(false)
                    : await writer.RunWithInputAsync(script, TimeSpan.FromHours(12), input, ct).ConfigureAwait(false);
            }
            finally { gate?.Release(); }
            lastStep = took.Elapsed;
            options.Log?.Invoke($"{host.Name}: upload step {step} for {final} took {took.ElapsedMilliseconds} ms");
            var sections = Parsing.ProbeSections.Parse(output.StdOut);
            if (sections.ExitCode("upload") != 0)
                throw new RgtException(step == "probe" ? "RemoteDirFailed" : "UploadCommitFailed", FailureKind.OperationFailed,
                    $"{host.Name}: {(step == "probe" ? $"cannot prepare {remoteDir}" : $"cannot write {(step is "write" or "chunks" ? partial : final)}")}: {(sections.Has("upload") ? sections["upload"] : output.StdErr).Trim()}");
            return sections["upload"].Split('\n').Select(l => l.Split('\t')).ToArray();
        }

        // Connections opened ahead, while the hash runs; what is not used goes back to the pool.
        var warm = new System.Collections.Concurrent.ConcurrentQueue<Task<SshConnection>>();
        async Task<SshConnection> Rent() => warm.TryDequeue(out var t) ? await t.ConfigureAwait(false) : await pool.RentShellAsync(target, ct).ConfigureAwait(false);
        try
        {
            // One round trip: create the directory, and report the final file's hash and mode and the partial's state.
            var probe = await Run("probe").ConfigureAwait(false);
            var parts = PartCount(length, lastStep);
            var finalLine = probe.FirstOrDefault(f => f[0] == "final");
            var maybeThere = finalLine is { Length: 4 } && finalLine[1] == length.ToString(CultureInfo.InvariantCulture);
            if (!maybeThere)
                for (var i = 0; i < parts; i++) warm.Enqueue(pool.RentShellAsync(target, ct));
            if (maybeThere)
            {
                localSha = await hashing.ConfigureAwait(false);
                if (finalLine![2] == localSha)
                {
                    if (perms is not null && Convert.ToInt32(finalLine[3], 8) != Convert.ToInt32(perms, 8)) await Run("commit").ConfigureAwait(false);
                    progress.Add(length);
                    return Result(host, localPath, final, length, localSha, false, 0, sw.Elapsed, "Skipped", "already on the box with the same size and SHA-256");
                }
            }
            // The tag says which version of the local file the partial holds (size and modification time;
            // the content's hash for text normalised in memory), so the bytes need not wait for the hash:
            // it runs alongside, and the box's hash of the whole file is checked against it at commit.
            var version = content is not null ? await hashing.ConfigureAwait(false) : "m" + File.GetLastWriteTimeUtc(localPath).Ticks.ToString(CultureInfo.InvariantCulture);
            var chunks = parts > 1 ? Chunks(length) : new List<(long Offset, long Length)> { (0, length) };
            tag = parts > 1 ? $"{length} {version} c{ChunkBytes}" : $"{length} {version} 1";
            var landed = Landed(probe, tag, chunks);
            bool resumed = landed.Bytes > 0;
            int attempts = 0;
            long counted = 0;
            Exception? last = null;
            while (options.Retry.AnotherTry(attempts))
            {
                attempts++;
                try
                {
                    if (last is not null)
                    {
                        // After a drop, what the box holds now is where the upload goes on.
                        landed = Landed(await Run("probe").ConfigureAwait(false), tag, chunks);
                        if (landed.Bytes > 0) resumed = true;
                    }
                    progress.Add(landed.Bytes - Interlocked.Read(ref counted));
                    Interlocked.Exchange(ref counted, landed.Bytes);
                    // SSH.NET sends every Write as packets of its own: the writers buffer.
                    void Copy(Stream src, Stream to, long from, long count, Action tick, CancellationToken token)
                    {
                        src.Seek(from, SeekOrigin.Begin);
                        var buf = new byte[256 * 1024];
                        for (long left = count; left > 0;)
                        {
                            token.ThrowIfCancellationRequested();
                            var n = src.Read(buf, 0, (int)Math.Min(buf.Length, left));
                            if (n == 0) throw new IOException($"{localPath} became shorter while it was sent");
                            to.Write(buf, 0, n);
                            tick();
                            progress.Add(n);
                            Interlocked.Add(ref counted, n);
                            left -= n;
                        }
                    }
                    // A write blocks while the box's window stays shut: no progress for the stall time drops the
                    // connection, and the next attempt goes on from what landed.
                    async Task Send(string step, long offset, Func<Action, Func<Stream, CancellationToken, Task>> writer, Task? ready = null)
                    {
                        var connection = await Rent().ConfigureAwait(false);
                        var ok = false;
                        long lastProgress = Environment.TickCount64;
                        var stalled = false;
                        using var watchdog = new Timer(_ =>
                        {
                            if (Environment.TickCount64 - Interlocked.Read(ref lastProgress) <= options.Stall.TotalMilliseconds) return;
                            stalled = true;
                            connection.Abort();
                        }, null, 1000, 1000);
                        try
                        {
                            if (ready is not null) await ready.ConfigureAwait(false);
                            Interlocked.Exchange(ref lastProgress, Environment.TickCount64);
                            await Run(step, writer(() => Interlocked.Exchange(ref lastProgress, Environment.TickCount64)), offset, connection).ConfigureAwait(false);
                            ok = !stalled;
                        }
                        catch (Exception ex) when (stalled && !ct.IsCancellationRequested)
                        {
                            throw new TimeoutException($"no bytes went out for {options.Stall.TotalSeconds:0} s: the connection stalled", ex);
                        }
                        finally { if (ok) pool.Return(target, connection); else connection.Dispose(); }
                    }
                    if (parts == 1)
                        await Send("write", landed.Bytes, tick => (input, token) =>
                        {
                            using var src = Open();
                            using var buffered = new BufferedStream(input, 256 * 1024);
                            Copy(src, buffered, landed.Bytes, length - landed.Bytes, tick, token);
                            buffered.Flush();
                            return Task.CompletedTask;
                        }).ConfigureAwait(false);
                    else
                    {
                        // Each connection takes the next chunk left when it is done with one: a slow one holds up no others.
                        var queue = new System.Collections.Concurrent.ConcurrentQueue<(long Offset, long Length)>(chunks.Where(c => !landed.Chunks.Contains(c.Offset)));
                        var tagged = Run("tag");
                        await Task.WhenAll(Enumerable.Range(0, Math.Min(parts, queue.Count)).Select(_ => Send("chunks", 0, tick => (input, token) =>
                        {
                            using var src = Open();
                            using var buffered = new BufferedStream(input, 256 * 1024);
                            while (queue.TryDequeue(out var c))
                            {
                                buffered.Write(System.Text.Encoding.ASCII.GetBytes($"{c.Offset} {c.Length}\n"));
                                Copy(src, buffered, c.Offset, c.Length, tick, token);
                            }
                            buffered.Flush();
                            return Task.CompletedTask;
                        }, tagged))).ConfigureAwait(false);
                        await tagged.ConfigureAwait(false);
                    }
                    localSha = await hashing.ConfigureAwait(false);
                    var check = await Run("commit").ConfigureAwait(false);
                    if (check.Any(f => f[0] == "OK"))
                        return Result(host, localPath, final, length, localSha, resumed, attempts, sw.Elapsed, "Uploaded", null, parts);
                    last = new RgtException("HashMismatch", FailureKind.InvalidData, $"{host.Name}:{partial}: the uploaded copy's SHA-256 differs ({string.Join(' ', check.Select(f => string.Join(' ', f))).Trim()})");
                    progress.Add(-Interlocked.Exchange(ref counted, 0));
                    landed = (0, new HashSet<long>()); resumed = false;
                }
                catch (Exception ex) when (RetryPolicy.IsTransient(ex, ct))
                {
                    // The next attempt continues from what landed in the partial: the final hash check decides.
                    last = ex;
                    if (!options.Retry.AnotherTry(attempts)) break;
                    await RetryPolicy.WaitAsync(attempts, ct).ConfigureAwait(false);
                }
            }
            throw new RgtException("TransferFailed", FailureKind.ConnectionError, $"{host.Name}: upload of {localPath} gave up after {attempts} attempts: {last?.Message}", last);
        }
        finally
        {
            while (warm.TryDequeue(out var t))
                try { pool.Return(target, await t.ConfigureAwait(false)); }
                catch (Exception) when (t.IsFaulted || t.IsCanceled) { }
            // A hash still running (the probe failed first) must not outlive the call with the file open.
            hashStop.Cancel();
            try { await hashing.ConfigureAwait(false); } catch (Exception) when (hashing.IsFaulted || hashing.IsCanceled) { }
        }
    }

    /// <summary>
    /// Connections at once over a long round trip: one exec channel moves at most the box's window
    /// (2 MB with OpenSSH) per round trip. The probe costs three round trips and the box's bash; one over
    /// 80 ms means such a link, and a file of 64 MiB or more then goes as chunks over up to 4 connections
    /// (bench/MEASUREMENTS.md, "Upload parts over a long round trip").
    /// </summary>
    static int PartCount(long length, TimeSpan probeTime) =>
        probeTime < TimeSpan.FromMilliseconds(80) || length < (64L << 20) ? 1 : (int)Math.Min(4, length / (32L << 20));

    /// <summary>
    /// The unit of work and of resume over several connections: a cut connection loses at most the
    /// chunk it was sending; small enough that the connections finish together (equal quarters did not).
    /// </summary>
    const long ChunkBytes = 16L << 20;

    static List<(long Offset, long Length)> Chunks(long length)
    {
        var list = new List<(long, long)>();
        for (long off = 0; off < length; off += ChunkBytes) list.Add((off, Math.Min(ChunkBytes, length - off)));
        return list;
    }

    /// <summary>How much is on the box already, when the partial is tagged for this very upload: the partial's length (one stream) or the whole chunks.</summary>
    static (long Bytes, HashSet<long> Chunks) Landed(string[][] probe, string tag, List<(long Offset, long Length)> chunks)
    {
        var done = new HashSet<long>();
        if (probe.FirstOrDefault(f => f[0] == "partial") is not { Length: 3 } pl || pl[2] != tag) return (0, done);
        if (!tag.Contains(" c", StringComparison.Ordinal))
            return (long.TryParse(pl[1], out var len) && len <= chunks[0].Length ? len : 0, done);
        var expected = chunks.ToDictionary(c => c.Offset, c => c.Length);
        foreach (var f in probe.Where(f => f[0] == "chunk" && f.Length == 3))
            if (long.TryParse(f[1], out var off) && long.TryParse(f[2], out var size) && expected.TryGetValue(off, out var want) && want == size)
                done.Add(off);
        return (done.Sum(o => expected[o]), done);
    }

    /// <summary>The local file's permission bits as octal (e.g. 755), or null where the system has none (Windows).</summary>
    static string? Permissions(string localPath)
    {
        if (OperatingSystem.IsWindows() || !File.Exists(localPath)) return null;
        var mode = (int)File.GetUnixFileMode(localPath) & 0x1FF;
        return Convert.ToString(mode, 8).PadLeft(3, '0');
    }

    static GpuTransfer Result(GpuHost host, string local, string remote, long length, string sha, bool resumed, int attempts, TimeSpan d, string status, string? reason, int connections = 0) => new()
    {
        Connections = connections,
        Name = host.Name, LocalPath = local, RemotePath = remote, Length = length, Sha256 = sha, RemoteSha256 = sha, Resumed = resumed, Attempts = attempts, Duration = d, Status = status, Reason = reason,
    };
}
