using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Scripts;
using RemoteGpuTrainer.Engine.Ssh;
using Renci.SshNet;

namespace RemoteGpuTrainer.Engine.Transfers;

/// <param name="ConnectionsPerFile">Parallel range reads per large file; null: chosen from the measured round trip.</param>
/// <param name="Log">Receives what -Verbose shows of the box steps (name and duration).</param>
public sealed record TransferOptions(int RetryCount = 5, TimeSpan? StallTimeout = null, int BufferSize = 1 << 20, int? ConnectionsPerFile = null, Action<string>? Log = null)
{
    public TimeSpan Stall => StallTimeout ?? TimeSpan.FromSeconds(30);
    public RetryPolicy Retry => new(RetryCount);
}

/// <summary>
/// A resumable, verified pull of one file: bytes go to &lt;file&gt;.rgt-partial with a sidecar holding the
/// remote size and mtime; a resume continues from the partial's length only when the remote is
/// unchanged. The SHA-256 is computed while writing (over the kept prefix, then the new bytes) and
/// must equal the box's sha256sum before the atomic rename to the final name. A mismatch (a corrupt
/// prefix included) discards the partial and fetches again. Each attempt uses its own SFTP connection.
/// </summary>
public static class Downloader
{
    public const string PartialSuffix = ".rgt-partial";

    /// <summary>What a partial belongs to; Contiguous, when set, is how much of it is whole (else its length).</summary>
    sealed record Sidecar(string RemotePath, long Size, long MTime, long? Contiguous = null);

    /// <param name="remoteHash">The box's SHA-256 of the file as listed (may be cached).</param>
    /// <param name="rehash">
    /// The box's SHA-256 of the file now, asked after a mismatch: a file written again while it was pulled (a trainer
    /// saving) is then RemoteChanged at once, not fetched again against a hash it no longer has. Null where the file
    /// cannot change (the mirror pulls a hard link): a mismatch is then bytes spoilt on the way, fetched again.
    /// </param>
    public static async Task<GpuTransfer> DownloadAsync(
        GpuHost host, SshTarget target, RemoteFile file, string localPath, Func<CancellationToken, Task<string>> remoteHash,
        TransferOptions options, TransferProgress progress, CancellationToken ct, ConnectionPool? pool = null,
        Func<CancellationToken, Task<string?>>? rehash = null)
    {
        var sw = Stopwatch.StartNew();
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(localPath))!);
        var partial = localPath + PartialSuffix;
        var sidecarPath = partial + ".json";
        Task<string>? hashTask = null;
        Task<string> RemoteHash() => hashTask ??= remoteHash(ct);

        // Already here and verified earlier? Same size and hash: skip.
        if (File.Exists(localPath) && new FileInfo(localPath).Length == file.Size)
        {
            var remote = await RemoteHash().ConfigureAwait(false);
            if (await HashFileAsync(localPath, ct).ConfigureAwait(false) == remote)
            {
                progress.Add(file.Size);
                return Result(host, file, localPath, remote, false, 0, sw.Elapsed, "Skipped", "already present with the same size and SHA-256");
            }
        }

        _ = RemoteHash(); // the box hashes while we fetch
        int attempts = 0;
        bool resumedAny = false;
        Exception? last = null;
        long counted = 0;
        while (options.Retry.AnotherTry(attempts))
        {
            ct.ThrowIfCancellationRequested();
            attempts++;
            long offset = ResumeOffset(partial, sidecarPath, file);
            if (offset > 0) resumedAny = true;
            progress.Add(offset - counted);
            counted = offset;
            try
            {
                using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                WriteSidecar(sidecarPath, file, null);
                // SSH.NET's synchronous reads use its read-ahead (bench/MEASUREMENTS.md, "SSH.NET synchronous reads").
                var connections = await Task.Run(() => FetchAsync(target, pool, file, partial, sidecarPath, offset, hash, options,
                    n => { progress.Add(n); Interlocked.Add(ref counted, n); }, ct), ct).ConfigureAwait(false);
                var local = Convert.ToHexString(hash.GetHashAndReset()).ToLowerInvariant();
                var remote = await RemoteHash().ConfigureAwait(false);
                if (local != remote)
                {
                    // A corrupt prefix or a file that changed under us: start over from zero.
                    File.Delete(partial); File.Delete(sidecarPath);
                    progress.Add(-counted); counted = 0;
                    last = new RgtException("HashMismatch", FailureKind.InvalidData, $"{host.Name}:{file.Path}: SHA-256 {local} does not match the box's {remote}");
                    if (rehash is not null && await rehash(ct).ConfigureAwait(false) is var now && now != remote)
                        throw new RgtException("RemoteChanged", FailureKind.InvalidData,
                            $"{host.Name}:{file.Path} changed on the box while it was pulled (SHA-256 {Short(now)} now, {Short(remote)} when listed; the bytes fetched are {Short(local)}): " +
                            "nothing was kept. Pull again once the writer is done with it (a trainer saving each epoch: pull its durable copy, or right after a save).");
                    continue;
                }
                File.Move(partial, localPath, overwrite: true);
                File.Delete(sidecarPath);
                return Result(host, file, localPath, local, resumedAny, attempts, sw.Elapsed, "Downloaded", null, connections);
            }
            catch (RgtException ex) when (ex.ErrorId == "LocalDiskFull")
            {
                File.Delete(sidecarPath);
                throw;
            }
            catch (Exception ex) when (RetryPolicy.IsTransient(ex, ct))
            {
                last = ex;
                if (!options.Retry.AnotherTry(attempts)) break;
                await RetryPolicy.WaitAsync(attempts, ct).ConfigureAwait(false);
            }
        }
        var kept = File.Exists(partial) ? $"The partial file {partial} is kept; run the same command again to resume." : "Nothing was kept; run the same command again.";
        throw new RgtException("TransferFailed", FailureKind.ConnectionError, $"{host.Name}:{file.Path}: gave up after {attempts} attempts: {last?.Message}. {kept}", last);
    }

    static string Short(string? sha) => sha is null ? "none" : sha[..Math.Min(12, sha.Length)] + "…";

    static long ResumeOffset(string partial, string sidecarPath, RemoteFile file)
    {
        if (!File.Exists(partial)) { File.Delete(sidecarPath); return 0; }
        try
        {
            var side = JsonSerializer.Deserialize<Sidecar>(File.ReadAllText(sidecarPath));
            var len = new FileInfo(partial).Length;
            var whole = Math.Min(len, side?.Contiguous ?? len);
            if (side is not null && side.Size == file.Size && side.MTime == file.MTime && side.RemotePath == file.Path && len <= file.Size)
            {
                if (whole < len) using (var f = new FileStream(partial, FileMode.Open, FileAccess.Write)) f.SetLength(whole);
                return whole;
            }
        }
        catch (Exception ex) when (ex is IOException or JsonException) { }
        File.Delete(partial); File.Delete(sidecarPath);
        return 0;
    }

    /// <summary>Below this much left to fetch, or per range, a file is read over one connection.</summary>
    const long MinRangeBytes = 32L << 20;

    /// <summary>
    /// On a link this near (loopback, a LAN), a file is streamed over an exec channel (stream-range.sh)
    /// instead of read over SFTP: SSH.NET's SFTP layer costs CPU per request (bench/MEASUREMENTS.md,
    /// "Exec-channel streaming"). Farther away one channel's window (about 2 MB in flight) limits it,
    /// and SFTP ranges keep more in flight.
    /// </summary>
    internal static readonly TimeSpan StreamBelowRoundTrip = TimeSpan.FromMilliseconds(5);

    /// <summary>An exec channel streams at most this much: SSH.NET buffers unread bytes without limit.</summary>
    const long StreamSegmentBytes = 256L << 20;

    /// <summary>Fetches the rest of the file into the partial and completes its hash; returns the connections used.</summary>
    static async Task<int> FetchAsync(SshTarget target, ConnectionPool? pool, RemoteFile file, string partial, string sidecarPath, long offset,
        IncrementalHash hash, TransferOptions options, Action<long> onBytes, CancellationToken ct)
    {
        var ownPool = pool is null;
        pool ??= new ConnectionPool();
        var clients = new List<SftpClient>();
        var healthy = new bool[8];
        try
        {
            clients.Add(await pool.RentAsync(target, ct).ConfigureAwait(false));
            var roundTrip = pool.RoundTrip(target, clients[0], file.Path);
            var count = RangeCount(roundTrip, file, offset, options);
            if (count == 1 && options.ConnectionsPerFile is null && roundTrip.Value <= StreamBelowRoundTrip)
            {
                healthy[0] = true;
                using var streamed = new PartialFile(partial, offset, file.Size, hash, ct);
                await StreamAsync(target, pool, file, offset, options, (buf, n, _) => { streamed.Append(buf, n); onBytes(n); }, ct).ConfigureAwait(false);
                await streamed.CompleteAsync(file.Size).ConfigureAwait(false);
                return 1;
            }
            while (clients.Count < count) clients.Add(await pool.RentAsync(target, ct).ConfigureAwait(false));
            var bounds = Split(offset, file.Size, count);
            var done = new long[count];
            using var local = new PartialFile(partial, offset, file.Size, hash, ct);
            // With several ranges the file has holes until the end: the sidecar says how much of it is whole.
            if (count > 1) WriteSidecar(sidecarPath, file, offset);
            using var failed = CancellationTokenSource.CreateLinkedTokenSource(ct);
            Exception? firstError = null;
            var tasks = bounds.Select((b, i) => Dedicated(async () =>
            {
                try
                {
                    var sftp = clients[i];
                    sftp.OperationTimeout = options.Stall;
                    using var remote = sftp.Open(file.Path, FileMode.Open, FileAccess.Read);
                    if (b.Start > 0) remote.Seek(b.Start, SeekOrigin.Begin);
                    await ReadRangeAsync(remote, () => sftp.Dispose(), file, b.Start, b.End, options, (buf, n, at) =>
                    {
                        if (i == 0) local.Append(buf, n); else local.WriteAt(buf, n, at);
                        done[i] += n;
                        onBytes(n);
                    }, failed.Token).ConfigureAwait(false);
                    healthy[i] = sftp.IsConnected;
                }
                catch (Exception ex)
                {
                    // The first failure is the cause; the siblings then fail because their connections are closed.
                    Interlocked.CompareExchange(ref firstError, ex, null);
                    failed.Cancel();
                    throw;
                }
            })).ToList();
            try
            {
                await Task.WhenAll(tasks).ConfigureAwait(false);
            }
            catch (Exception) when (firstError is not null)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(firstError).Throw();
            }
            finally
            {
                if (count > 1) WriteSidecar(sidecarPath, file, Contiguous(bounds, done));
            }
            await local.CompleteAsync(file.Size).ConfigureAwait(false);
            return count;
        }
        finally
        {
            for (int i = 0; i < clients.Count; i++)
                if (healthy[i] && !ownPool && clients[i].IsConnected) pool.Return(target, clients[i]);
                else clients[i].Dispose();
            if (ownPool) pool.Dispose();
        }
    }

    /// <summary>
    /// Streams [offset, size) over exec channels, one bounded segment each, in order. A box that
    /// cannot read the file is an error of its own (not retried); a dropped link is transient.
    /// </summary>
    static async Task StreamAsync(SshTarget target, ConnectionPool pool, RemoteFile file, long offset, TransferOptions options,
        Action<byte[], int, long> sink, CancellationToken ct)
    {
        var shell = await pool.RentShellAsync(target, ct).ConfigureAwait(false);
        var reusable = false;
        try
        {
            for (long at = offset; at < file.Size;)
            {
                var end = Math.Min(file.Size, at + StreamSegmentBytes);
                var command = BoxScript.Load("stream-range").Set("FILE", file.Path).Set("START", at).Set("LENGTH", end - at).Command;
                var (output, completion) = shell.StartBinary(command, ct);
                try
                {
                    // Closing the stream ends a blocked read; SSH.NET does not close it when the connection dies.
                    await ReadRangeAsync(output, () => { output.Dispose(); shell.Dispose(); }, file, at, end, options, sink, ct).ConfigureAwait(false);
                }
                catch (ShortReadException ex)
                {
                    var result = await completion.ConfigureAwait(false);
                    if (result.ExitCode is not 0)
                        throw new RgtException("RemoteReadFailed", FailureKind.OperationFailed,
                            $"{target.Name}:{file.Path}: the box could not read the file (exit {result.ExitCode}): {result.StdErr.Trim()}", ex);
                    throw;
                }
                var done = await completion.ConfigureAwait(false);
                if (done.ExitCode is not 0)
                    throw new RgtException("RemoteReadFailed", FailureKind.OperationFailed,
                        $"{target.Name}:{file.Path}: the box's read ended with exit {done.ExitCode?.ToString() ?? done.Signal}: {done.StdErr.Trim()}");
                at = end;
            }
            reusable = true;
        }
        finally
        {
            if (reusable) pool.Return(target, shell); else shell.Dispose();
        }
    }

    /// <summary>
    /// Runs blocking transfer work (synchronous SFTP reads, the writer's wait for chunks) on its own thread.
    /// On the thread pool, four ranges of two files block eight pool threads; on a 2-core machine the pool
    /// then adds threads about twice a second, and SSH.NET's own continuations queue behind them
    /// (bench/MEASUREMENTS.md, "Dedicated threads").
    /// </summary>
    static Task Dedicated(Func<Task> work) => Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();

    static Task Dedicated(Action work) => Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    /// <summary>
    /// How many connections read this file at once. One SSH.NET stream keeps about 6.5 MB in flight
    /// (100 pending 64 KiB reads), so over a long round trip one stream idles; ask for enough streams
    /// to keep about 250 MB/s in flight (what one core here decrypts, hashes and writes), no more.
    /// On loopback that is one; at 40 ms it is two (bench/MEASUREMENTS.md, "Range reads per file").
    /// </summary>
    static int RangeCount(Lazy<TimeSpan> roundTrip, RemoteFile file, long offset, TransferOptions options)
    {
        var max = (int)Math.Clamp((file.Size - offset) / MinRangeBytes, 1, 8);
        if (options.ConnectionsPerFile is int wanted) return Math.Clamp(wanted, 1, max);
        if (max == 1) return 1;
        // Each busy stream also costs local CPU: left to itself, no more streams than cores.
        return (int)Math.Clamp(Math.Ceiling(250e6 * roundTrip.Value.TotalSeconds / 6.5e6), 1, Math.Min(max, Math.Max(1, Environment.ProcessorCount)));
    }

    static List<(long Start, long End)> Split(long offset, long size, int count)
    {
        var step = (size - offset) / count;
        return Enumerable.Range(0, count).Select(i => (offset + i * step, i == count - 1 ? size : offset + (i + 1) * step)).ToList();
    }

    /// <summary>Bytes from the start of the file with no hole: every whole range, then the first unfinished one's part.</summary>
    static long Contiguous(List<(long Start, long End)> bounds, long[] done)
    {
        for (int i = 0; i < bounds.Count; i++)
            if (bounds[i].Start + done[i] < bounds[i].End) return bounds[i].Start + done[i];
        return bounds[^1].End;
    }

    static void WriteSidecar(string path, RemoteFile file, long? contiguous) =>
        File.WriteAllText(path, JsonSerializer.Serialize(new Sidecar(file.Path, file.Size, file.MTime, contiguous)));

    /// <summary>
    /// Reads [start, end) of the remote file in order from <paramref name="remote"/> (positioned at
    /// start), handing each chunk with its file offset to <paramref name="sink"/> on a second thread
    /// (this one decrypts, that one writes and hashes). <paramref name="abort"/> closes the connection:
    /// the way to end a blocked read when the bytes stop or a sibling range failed.
    /// </summary>
    static async Task ReadRangeAsync(Stream remote, Action abort, RemoteFile file, long start, long end, TransferOptions options,
        Action<byte[], int, long> sink, CancellationToken ct)
    {
        long lastProgress = Environment.TickCount64;
        using var stallCts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        // Keepalive cannot see a dead peer: watch the bytes instead, and drop the connection when they stop.
        using var watchdog = new Timer(_ =>
        {
            if (Environment.TickCount64 - Interlocked.Read(ref lastProgress) > options.Stall.TotalMilliseconds)
            {
                stallCts.Cancel();
                try { abort(); } catch (Exception) { }
            }
        }, null, 1000, 1000);
        // A cancelled sibling range stops this one at once: closing the connection ends a blocked read.
        using var onCancel = ct.Register(() => { try { abort(); } catch (Exception) { } });
        using var chunks = new System.Collections.Concurrent.BlockingCollection<(byte[] Buffer, int Count, long At)>(4);
        var free = new System.Collections.Concurrent.ConcurrentBag<byte[]>();
        Exception? writeError = null;
        var writer = Dedicated(() =>
        {
            try
            {
                foreach (var (buf, n, at) in chunks.GetConsumingEnumerable())
                {
                    sink(buf, n, at);
                    free.Add(buf);
                }
            }
            catch (Exception ex) { writeError = ex; stallCts.Cancel(); }
        });
        long pos = start;
        try
        {
            while (pos < end)
            {
                stallCts.Token.ThrowIfCancellationRequested();
                var buffer = free.TryTake(out var b) ? b : new byte[options.BufferSize];
                // A whole buffer per chunk: an exec channel's stream returns each 32 KiB packet on its own.
                int n = 0, want = (int)Math.Min(buffer.Length, end - pos);
                for (int r; n < want && (r = remote.Read(buffer, n, want - n)) > 0; n += r) Interlocked.Exchange(ref lastProgress, Environment.TickCount64);
                if (n == 0) throw new ShortReadException($"the remote file ended at {pos} of {file.Size} bytes");
                chunks.Add((buffer, n, pos), stallCts.Token);
                pos += n;
            }
        }
        catch (OperationCanceledException ex) when (writeError is not null)
        {
            throw new IOException($"writing {file.Relative} failed: {writeError.Message}", ex);
        }
        catch (Exception ex) when (writeError is null && stallCts.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            throw new TimeoutException($"no bytes for {options.Stall.TotalSeconds:0} s: the connection stalled", ex);
        }
        finally
        {
            // Whatever arrived is written in order before the partial is closed, so a resume can trust its length
            // (a lost tail after an OS crash is caught by the hash).
            chunks.CompleteAdding();
            await writer.ConfigureAwait(false);
        }
        if (writeError is not null) throw new IOException($"writing {file.Relative} failed: {writeError.Message}", writeError);
    }

    public static async Task<string> HashFileAsync(string path, CancellationToken ct)
    {
        using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        return Convert.ToHexString(await SHA256.HashDataAsync(f, ct).ConfigureAwait(false)).ToLowerInvariant();
    }

    static GpuTransfer Result(GpuHost host, RemoteFile f, string local, string sha, bool resumed, int attempts, TimeSpan d, string status, string? reason, int connections = 0) => new()
    {
        Connections = connections,
        Name = host.Name, RemotePath = f.Path, LocalPath = local, Length = f.Size, Sha256 = sha, RemoteSha256 = sha, Resumed = resumed,
        Attempts = attempts, Duration = d, Status = status, Reason = reason,
    };

    /// <summary>Fewer bytes than the listing promised (a file cut while read, or a box that could not read it).</summary>
    sealed class ShortReadException(string message) : IOException(message);
}
