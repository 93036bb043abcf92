using System.Diagnostics;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Ssh;
using RemoteGpuTrainer.Engine.Text;
using Renci.SshNet;

namespace RemoteGpuTrainer.Engine.Transfers;

/// <summary>
/// The same contract as a pull, the other way: upload to a hidden temporary name beside the target,
/// resume an unchanged partial, verify with the box's sha256sum, then rename with mv. The first
/// attempt uses SSH.NET's pipelined upload; a resume appends through a stream.
/// </summary>
public static class Uploader
{
    public static async Task<GpuTransfer> UploadAsync(GpuHost host, SshTarget target, SshConnection control, SemaphoreSlim controlGate,
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
        var tag = $"{length} {localSha}";

        async Task<CommandOutput> Run(string script)
        {
            await controlGate.WaitAsync(ct).ConfigureAwait(false);
            try { return await control.RunAsync(script, TimeSpan.FromMinutes(30), ct).ConfigureAwait(false); }
            finally { controlGate.Release(); }
        }

        // One round trip: create the directory, and report the final file's hash and the partial's state.
        var probe = await Run(
            $"d={ShellQuote.QuotePath(remoteDir)}; f={ShellQuote.QuotePath(final)}; p={ShellQuote.QuotePath(partial)}; " +
            "mkdir -p \"$d\" || exit 3; " +
            "if [ -f \"$f\" ]; then printf 'final %s %s\\n' \"$(stat -c %s \"$f\")\" \"$(sha256sum < \"$f\" | cut -c1-64)\"; fi; " +
            "if [ -f \"$p\" ]; then printf 'partial %s %s\\n' \"$(stat -c %s \"$p\")\" \"$(cat \"$p.src\" 2>/dev/null)\"; fi").ConfigureAwait(false);
        if (probe.ExitCode != 0)
            throw new RgtException("RemoteDirFailed", FailureKind.OperationFailed, $"{host.Name}: cannot create {remoteDir}: {probe.StdErr.Trim()}");
        var lines = probe.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (lines.FirstOrDefault(l => l.StartsWith("final ", StringComparison.Ordinal)) is { } fl && fl == $"final {length} {localSha}")
        {
            progress.Add(length);
            return Result(host, localPath, final, length, localSha, false, 0, sw.Elapsed, "Skipped", "already on the box with the same size and SHA-256");
        }
        long offset = 0;
        if (lines.FirstOrDefault(l => l.StartsWith("partial ", StringComparison.Ordinal)) is { } pl)
        {
            var f = pl.Split(' ', 3);
            if (f.Length == 3 && f[2] == tag && long.TryParse(f[1], out var len) && len <= length) offset = len;
        }
        bool resumed = offset > 0;
        int attempts = 0;
        Exception? last = null;
        while (attempts <= options.RetryCount)
        {
            attempts++;
            try
            {
                var (sftp, _) = await SshConnection.OpenAsync(target, false, info => new SftpClient(info), ct).ConfigureAwait(false);
                using (sftp)
                {
                    sftp.OperationTimeout = options.Stall;
                    sftp.BufferSize = 64 * 1024;
                    if (offset == 0)
                    {
                        using (var side = sftp.Create(partial + ".src")) { var b = System.Text.Encoding.ASCII.GetBytes(tag); side.Write(b, 0, b.Length); }
                        using var src = Open();
                        await Task.Run(() => sftp.UploadFile(src, partial, true, n => { }), ct).ConfigureAwait(false);
                    }
                    else
                    {
                        using var remote = sftp.Open(partial, FileMode.Append, FileAccess.Write);
                        using var src = Open();
                        src.Seek(offset, SeekOrigin.Begin);
                        var buf = new byte[256 * 1024];
                        int n;
                        while ((n = src.Read(buf, 0, buf.Length)) > 0)
                        {
                            ct.ThrowIfCancellationRequested();
                            remote.Write(buf, 0, n);
                        }
                    }
                }
                progress.Add(length - offset);
                var check = await Run(
                    $"p={ShellQuote.QuotePath(partial)}; f={ShellQuote.QuotePath(final)}; s=$(sha256sum < \"$p\" | cut -c1-64); " +
                    $"if [ \"$s\" = {localSha} ] && [ \"$(stat -c %s \"$p\")\" = {length} ]; then mv -f \"$p\" \"$f\" && rm -f \"$p.src\" && echo RGT_OK; else rm -f \"$p\" \"$p.src\"; echo \"RGT_MISMATCH $s\"; fi").ConfigureAwait(false);
                if (check.StdOut.Contains("RGT_OK", StringComparison.Ordinal))
                    return Result(host, localPath, final, length, localSha, resumed, attempts, sw.Elapsed, "Uploaded", null);
                last = new RgtException("HashMismatch", FailureKind.InvalidData, $"{host.Name}:{partial}: the uploaded copy's SHA-256 differs ({check.StdOut.Trim()})");
                offset = 0; resumed = false;
            }
            catch (Exception ex) when (!ct.IsCancellationRequested && ex is IOException or System.Net.Sockets.SocketException or ObjectDisposedException
                or TimeoutException or Renci.SshNet.Common.SshException or RgtException { Kind: FailureKind.ConnectionError or FailureKind.Timeout })
            {
                last = ex;
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(8000, 250 * Math.Pow(2, attempts - 1))), ct).ConfigureAwait(false);
                offset = 0; // unknown how much landed: the verified hash decides, so start the temp file over
            }
        }
        throw new RgtException("TransferFailed", FailureKind.ConnectionError, $"{host.Name}: upload of {localPath} gave up after {attempts} attempts: {last?.Message}", last);
    }

    static GpuTransfer Result(GpuHost host, string local, string remote, long length, string sha, bool resumed, int attempts, TimeSpan d, string status, string? reason) => new()
    {
        Name = host.Name, LocalPath = local, RemotePath = remote, Length = length, Sha256 = sha, Resumed = resumed, Attempts = attempts, Duration = d, Status = status, Reason = reason,
    };
}
