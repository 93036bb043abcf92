using System.Diagnostics;
using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Scripts;
using RemoteGpuTrainer.Engine.Ssh;

namespace RemoteGpuTrainer.Engine.Transfers;

/// <summary>One local file for a batched upload: its path, its name under the destination, its bytes when they differ from the file's (CRLF normalised).</summary>
public sealed record BatchFile(string Full, string Relative, byte[]? Content);

/// <summary>
/// Send-GpuFile for small files (a source tree): one round trip asks the box which files it already
/// has with the same SHA-256 and mode, then the rest travel as one tar stream over one exec channel
/// (upload-batch.sh) into a hidden staging folder, each is checked against the manifest of hashes
/// and only then renamed into place. The same contract as <see cref="Uploader"/>, without its
/// SFTP session and two round trips per file.
/// </summary>
public static class BatchUploader
{
    /// <summary>Files up to this size go in batches; larger ones are uploaded one by one (resumable).</summary>
    public const long MaxFileBytes = 1L << 20;

    /// <summary>A batch holds at most this many bytes: a failed batch is sent again whole.</summary>
    const long MaxBatchBytes = 64L << 20;

    sealed record Local(BatchFile File, string Sha, UnixFileMode? Mode, long Length);

    public static async Task<List<(BatchFile File, GpuTransfer? Transfer, Exception? Error)>> UploadAsync(
        HostConnector connector, GpuHost host, SshConnection shell, IReadOnlyList<BatchFile> files, string remoteDir, TransferOptions options, TransferProgress progress, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        var dest = remoteDir.TrimEnd('/');
        var locals = files.Select(Describe).ToList();
        var results = new List<(BatchFile, GpuTransfer?, Exception?)>();

        var present = await ProbeAsync(host, shell, dest, locals, ct).ConfigureAwait(false);
        var send = new List<Local>();
        var modeOnly = new List<Local>();
        foreach (var l in locals)
        {
            if (!present.TryGetValue(l.File.Relative, out var there) || there.Sha != l.Sha) send.Add(l);
            else if (l.Mode is { } m && there.Mode != Octal(m)) modeOnly.Add(l);
            else
            {
                progress.Add(l.Length);
                results.Add((l.File, Result(host, l, dest, sw.Elapsed, "Skipped", "already on the box with the same size and SHA-256", 0), null));
            }
        }
        if (modeOnly.Count > 0)
        {
            // The content is there already: only the mode bits change (like the one-by-one upload).
            var script = BoxScript.Load("upload-batch").Set("MODE_STEP", "chmod").Set("DEST", dest).Set("STAGE", "").Command;
            var output = await shell.RunAsync(script, TimeSpan.FromMinutes(30), ct, string.Concat(modeOnly.Select(l => $"{Octal(l.Mode!.Value)} {l.File.Relative}\0"))).ConfigureAwait(false);
            var outcome = Outcome(Section(host, output, $"cannot set modes in {dest}"));
            foreach (var l in modeOnly)
            {
                progress.Add(l.Length);
                results.Add(outcome.GetValueOrDefault(l.File.Relative) == "OK"
                    ? (l.File, Result(host, l, dest, sw.Elapsed, "Skipped", "already on the box with the same size and SHA-256; its mode was set", 0), null)
                    : (l.File, null, new RgtException("UploadCommitFailed", FailureKind.OperationFailed, $"{host.Name}:{dest}/{l.File.Relative}: its mode could not be set.")));
            }
        }

        SshConnection? own = null;
        try
        {
            foreach (var batch in Batches(send))
            {
                int attempts = 0;
                Exception? last = null;
                Dictionary<string, string>? outcome = null;
                while (options.Retry.AnotherTry(attempts) && outcome is null)
                {
                    attempts++;
                    long sent = 0;
                    try
                    {
                        // After a dropped link the next attempt needs a connection of its own.
                        if (last is not null)
                        {
                            own?.Dispose();
                            shell = own = await connector.OpenExtraAsync(host, ct).ConfigureAwait(false);
                        }
                        outcome = await SendAsync(host, shell, dest, batch, options.Stall, n => { progress.Add(n); sent += n; }, ct).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (RetryPolicy.IsTransient(ex, ct))
                    {
                        last = ex;
                        progress.Add(-sent);
                        if (!options.Retry.AnotherTry(attempts)) break;
                        await RetryPolicy.WaitAsync(attempts, ct).ConfigureAwait(false);
                    }
                }
                foreach (var l in batch)
                {
                    if (outcome is null)
                        results.Add((l.File, null, new RgtException("TransferFailed", FailureKind.ConnectionError,
                            $"{host.Name}: upload of {l.File.Full} gave up after {attempts} attempts: {last?.Message}", last)));
                    else if (outcome.TryGetValue(l.File.Relative, out var o) && o == "OK")
                        results.Add((l.File, Result(host, l, dest, sw.Elapsed, "Uploaded", null, attempts), null));
                    else
                        results.Add((l.File, null, new RgtException("HashMismatch", FailureKind.InvalidData,
                            $"{host.Name}:{dest}/{l.File.Relative}: not placed: {o ?? "the box did not report it"}. Nothing was overwritten; send it again.")));
                }
            }
        }
        finally { own?.Dispose(); }
        return results;
    }

    static Local Describe(BatchFile f)
    {
        byte[] bytes = f.Content ?? File.ReadAllBytes(f.Full);
        UnixFileMode? mode = OperatingSystem.IsWindows() ? null : File.GetUnixFileMode(f.Full) & (UnixFileMode)0x1FF;
        return new Local(f, Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant(), mode, bytes.LongLength);
    }

    static string Octal(UnixFileMode mode) => Convert.ToString((int)mode, 8);

    static IEnumerable<List<Local>> Batches(List<Local> files)
    {
        var batch = new List<Local>();
        long bytes = 0;
        foreach (var f in files)
        {
            if (batch.Count > 0 && bytes + f.Length > MaxBatchBytes) { yield return batch; batch = new(); bytes = 0; }
            batch.Add(f);
            bytes += f.Length;
        }
        if (batch.Count > 0) yield return batch;
    }

    static async Task<Dictionary<string, (string Sha, string Mode)>> ProbeAsync(GpuHost host, SshConnection shell, string dest, List<Local> files, CancellationToken ct)
    {
        var script = BoxScript.Load("upload-batch").Set("MODE_STEP", "probe").Set("DEST", dest).Set("STAGE", "").Command;
        var names = string.Concat(files.Select(f => f.File.Relative + "\0"));
        var output = await shell.RunAsync(script, TimeSpan.FromMinutes(30), ct, names).ConfigureAwait(false);
        var section = Section(host, output, $"cannot look at {dest}");
        var present = new Dictionary<string, (string, string)>(StringComparer.Ordinal);
        foreach (var rec in section.Split('\0'))
        {
            var f = rec.Split('\t', 3);
            if (f.Length == 3 && f[0].Length == 64) present[f[2]] = (f[0], f[1]);
        }
        return present;
    }

    static async Task<Dictionary<string, string>> SendAsync(GpuHost host, SshConnection shell, string dest, List<Local> batch, TimeSpan stall, Action<long> onBytes, CancellationToken ct)
    {
        // No bytes going out for the stall time (the box's window stays shut) drops the connection: the batch is sent again.
        long lastProgress = Environment.TickCount64;
        using var watchdog = new Timer(_ =>
        {
            if (Environment.TickCount64 - Interlocked.Read(ref lastProgress) > stall.TotalMilliseconds) shell.Abort();
        }, null, 1000, 1000);
        var stage = $"{dest}/.rgt-batch-{Guid.NewGuid():N}";
        var script = BoxScript.Load("upload-batch").Set("MODE_STEP", "extract").Set("DEST", dest).Set("STAGE", stage).Command;
        var output = await shell.RunWithInputAsync(script, TimeSpan.FromHours(2), (input, token) =>
        {
            // SSH.NET sends every Write as packets of its own: tar's 512-byte headers need a buffer in front.
            using var buffered = new BufferedStream(input, 256 * 1024);
            using (var tar = new TarWriter(buffered, TarEntryFormat.Pax, leaveOpen: true))
            {
                var manifest = Encoding.UTF8.GetBytes(string.Concat(batch.Select(l => $"{l.Sha} {l.File.Relative}\0")));
                tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "manifest") { DataStream = new MemoryStream(manifest) });
                foreach (var l in batch)
                {
                    token.ThrowIfCancellationRequested();
                    using var data = l.File.Content is { } c ? new MemoryStream(c, writable: false) : (Stream)File.OpenRead(l.File.Full);
                    var entry = new PaxTarEntry(TarEntryType.RegularFile, "f/" + l.File.Relative) { DataStream = data };
                    if (l.Mode is { } m) entry.Mode = m;
                    tar.WriteEntry(entry);
                    Interlocked.Exchange(ref lastProgress, Environment.TickCount64);
                    onBytes(l.Length);
                }
            }
            buffered.Flush();
            // All sent: the box's checking and renaming is not a stall.
            Interlocked.Exchange(ref lastProgress, long.MaxValue / 2);
            return Task.CompletedTask;
        }, ct).ConfigureAwait(false);
        return Outcome(Section(host, output, $"cannot unpack into {dest}"));
    }

    /// <summary>The box's verdict per file name: "OK", or why not.</summary>
    static Dictionary<string, string> Outcome(string section)
    {
        var outcome = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var rec in section.Split('\0'))
        {
            var f = rec.Split('\t');
            if (f.Length >= 2 && f[0] == "OK") outcome[string.Join('\t', f[1..])] = "OK";
            else if (f.Length >= 3 && f[0] == "MISMATCH")
                outcome[string.Join('\t', f[2..])] = f[1] == "missing" ? "it did not arrive" : f[1].Length == 64 ? $"its SHA-256 on the box is {f[1]}" : f[1];
        }
        return outcome;
    }

    static string Section(GpuHost host, CommandOutput output, string what)
    {
        var s = Parsing.ProbeSections.Parse(output.StdOut);
        if (s.ExitCode("batch") != 0)
            throw new RgtException("UploadBatchFailed", FailureKind.OperationFailed,
                $"{host.Name}: {what}: {(s.Has("batch") ? s["batch"] : output.StdErr).Trim()}");
        return s["batch"];
    }

    static GpuTransfer Result(GpuHost host, Local l, string dest, TimeSpan d, string status, string? reason, int attempts) => new()
    {
        Name = host.Name, LocalPath = l.File.Full, RemotePath = dest + "/" + l.File.Relative, Length = l.Length, Sha256 = l.Sha, RemoteSha256 = l.Sha,
        Attempts = attempts, Duration = d, Status = status, Reason = reason,
    };
}
