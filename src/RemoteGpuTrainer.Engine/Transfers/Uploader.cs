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
        string localSha;
        long length;
        using (var s = Open())
        {
            length = s.Length;
            localSha = Convert.ToHexString(await System.Security.Cryptography.SHA256.HashDataAsync(s, ct).ConfigureAwait(false)).ToLowerInvariant();
        }
        var final = remoteDir.TrimEnd('/') + "/" + remoteName;
        var partial = remoteDir.TrimEnd('/') + "/." + remoteName + ".rgt-partial";
        var tag = $"{length} {localSha} 1";
        var perms = Permissions(localPath);

        int parts = 1;
        var lastStep = TimeSpan.Zero;
        async Task<string[][]> Run(string step, Func<Stream, CancellationToken, Task>? input = null, long offset = 0, int? part = null, SshConnection? writer = null)
        {
            var script = BoxScript.Load("upload").Uses("hash").Set("MODE_STEP", step).Set("DIR", remoteDir).Set("FINAL", final).Set("PARTIAL", partial)
                .Set("SHA", localSha).Set("LENGTH", length).Set("PERMS", perms).Set("OFFSET", offset).Set("TAG", tag)
                .Set("PART", part?.ToString(CultureInfo.InvariantCulture) ?? "").Set("PARTS", parts).Command;
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
            var sections = Parsing.ProbeSections.Parse(output.StdOut);
            if (sections.ExitCode("upload") != 0)
                throw new RgtException(step == "probe" ? "RemoteDirFailed" : "UploadCommitFailed", FailureKind.OperationFailed,
                    $"{host.Name}: {(step == "probe" ? $"cannot prepare {remoteDir}" : $"cannot write {(step == "write" ? partial : final)}")}: {(sections.Has("upload") ? sections["upload"] : output.StdErr).Trim()}");
            return sections["upload"].Split('\n').Select(l => l.Split('\t')).ToArray();
        }

        // One round trip: create the directory, and report the final file's hash and mode and the partial's state.
        var probe = await Run("probe").ConfigureAwait(false);
        var probeTime = lastStep;
        if (probe.FirstOrDefault(f => f[0] == "final") is { Length: 4 } fl && fl[1] == length.ToString(CultureInfo.InvariantCulture) && fl[2] == localSha)
        {
            if (perms is not null && Convert.ToInt32(fl[3], 8) != Convert.ToInt32(perms, 8)) await Run("commit").ConfigureAwait(false);
            progress.Add(length);
            return Result(host, localPath, final, length, localSha, false, 0, sw.Elapsed, "Skipped", "already on the box with the same size and SHA-256");
        }
        parts = PartCount(length, probeTime);
        tag = $"{length} {localSha} {parts}";
        var ranges = Split(length, parts);
        var have = Landed(probe, tag, ranges);
        bool resumed = have.Sum() > 0;
        int attempts = 0;
        long counted = 0;
        Exception? last = null;
        while (attempts <= options.RetryCount)
        {
            attempts++;
            try
            {
                if (last is not null)
                {
                    // After a drop, the partial's length as the box sees it now is where each range goes on.
                    have = Landed(await Run("probe").ConfigureAwait(false), tag, ranges);
                    if (have.Sum() > 0) resumed = true;
                }
                progress.Add(have.Sum() - Interlocked.Read(ref counted));
                Interlocked.Exchange(ref counted, have.Sum());
                // The bytes go over exec channels into the partial (or its parts): no SFTP session, and
                // writes wait for the box's window. SSH.NET sends every Write as packets of its own: buffer them.
                Func<Stream, CancellationToken, Task> Writer(long from, long to, Action tick) => (input, token) =>
                {
                    using var src = Open();
                    src.Seek(from, SeekOrigin.Begin);
                    using var buffered = new BufferedStream(input, 256 * 1024);
                    var buf = new byte[256 * 1024];
                    for (long left = to - from; left > 0;)
                    {
                        token.ThrowIfCancellationRequested();
                        var n = src.Read(buf, 0, (int)Math.Min(buf.Length, left));
                        if (n == 0) throw new IOException($"{localPath} became shorter while it was sent");
                        buffered.Write(buf, 0, n);
                        tick();
                        progress.Add(n);
                        Interlocked.Add(ref counted, n);
                        left -= n;
                    }
                    buffered.Flush();
                    return Task.CompletedTask;
                };
                async Task<string[][]> Send(long from, long to, long offset, int? part)
                {
                    var connection = await pool.RentShellAsync(target, ct).ConfigureAwait(false);
                    var ok = false;
                    // A write blocks while the box's window stays shut: no progress for the stall time drops the
                    // connection, and the next attempt goes on from what landed.
                    long lastProgress = Environment.TickCount64;
                    var stalled = false;
                    using var watchdog = new Timer(_ =>
                    {
                        if (Environment.TickCount64 - Interlocked.Read(ref lastProgress) <= options.Stall.TotalMilliseconds) return;
                        stalled = true;
                        connection.Dispose();
                    }, null, 1000, 1000);
                    try
                    {
                        var r = await Run("write", Writer(from, to, () => Interlocked.Exchange(ref lastProgress, Environment.TickCount64)), offset, part, connection).ConfigureAwait(false);
                        ok = !stalled;
                        return r;
                    }
                    catch (Exception ex) when (stalled && !ct.IsCancellationRequested)
                    {
                        throw new TimeoutException($"no bytes went out for {options.Stall.TotalSeconds:0} s: the connection stalled", ex);
                    }
                    finally { if (ok) pool.Return(target, connection); else connection.Dispose(); }
                }
                if (parts == 1)
                    await Send(have[0], length, have[0], null).ConfigureAwait(false);
                else
                {
                    await Run("tag").ConfigureAwait(false);
                    await Task.WhenAll(ranges.Select((r, i) => have[i] == r.End - r.Start ? Task.CompletedTask
                        : Send(r.Start + have[i], r.End, have[i], i))).ConfigureAwait(false);
                }
                var check = await Run("commit").ConfigureAwait(false);
                if (check.Any(f => f[0] == "OK"))
                    return Result(host, localPath, final, length, localSha, resumed, attempts, sw.Elapsed, "Uploaded", null, parts);
                last = new RgtException("HashMismatch", FailureKind.InvalidData, $"{host.Name}:{partial}: the uploaded copy's SHA-256 differs ({string.Join(' ', check.Select(f => string.Join(' ', f))).Trim()})");
                progress.Add(-Interlocked.Exchange(ref counted, 0));
                have = new long[parts]; resumed = false;
            }
            catch (Exception ex) when (!ct.IsCancellationRequested && ex is IOException or System.Net.Sockets.SocketException or ObjectDisposedException
                or TimeoutException or Renci.SshNet.Common.SshException or RgtException { Kind: FailureKind.ConnectionError or FailureKind.Timeout })
            {
                // The next attempt continues from what landed in the partial: the final hash check decides.
                last = ex;
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(8000, 250 * Math.Pow(2, attempts - 1))), ct).ConfigureAwait(false);
            }
        }
        throw new RgtException("TransferFailed", FailureKind.ConnectionError, $"{host.Name}: upload of {localPath} gave up after {attempts} attempts: {last?.Message}", last);
    }

    /// <summary>
    /// Ranges sent at once over a long round trip: one exec channel moves at most the box's window
    /// (2 MB with OpenSSH) per round trip, about 50 MB/s at 40 ms. The probe costs three round trips
    /// and the box's bash (measured: 16-35 ms on loopback, 126-131 ms at 40 ms); one over 80 ms means
    /// such a link, and a file of 64 MiB or more then goes as up to 4 parts, each on its own connection.
    /// </summary>
    static int PartCount(long length, TimeSpan probeTime) =>
        probeTime < TimeSpan.FromMilliseconds(80) || length < (64L << 20) ? 1 : (int)Math.Min(4, length / (32L << 20));

    /// <summary>The ranges of the parts, cut at whole MiB.</summary>
    static List<(long Start, long End)> Split(long length, int parts)
    {
        var step = (length / parts + (1 << 20) - 1) / (1 << 20) * (1 << 20);
        return Enumerable.Range(0, parts).Select(i => (Math.Min(length, i * step), i == parts - 1 ? length : Math.Min(length, (i + 1) * step))).ToList();
    }

    /// <summary>How much of each range is on the box already, when the partial is tagged for this very upload.</summary>
    static long[] Landed(string[][] probe, string tag, List<(long Start, long End)> ranges)
    {
        var have = new long[ranges.Count];
        if (probe.FirstOrDefault(f => f[0] == "partial") is not { Length: 3 } pl || pl[2] != tag) return have;
        if (ranges.Count == 1)
        {
            if (long.TryParse(pl[1], out var len) && len <= ranges[0].End) have[0] = len;
            return have;
        }
        foreach (var f in probe.Where(f => f[0] == "part" && f.Length == 3))
            if (int.TryParse(f[1], out var i) && i >= 0 && i < ranges.Count && long.TryParse(f[2], out var size) && size <= ranges[i].End - ranges[i].Start)
                have[i] = size;
        return have;
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
