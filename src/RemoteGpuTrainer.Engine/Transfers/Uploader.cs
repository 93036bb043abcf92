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
/// box's sha256sum, set the local file's mode bits (like scp -p: a pushed run.sh stays executable),
/// then rename with mv. A fresh upload uses SSH.NET's pipelined upload; a resume appends.
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
        var perms = Permissions(localPath);

        async Task<string[][]> Run(string step)
        {
            var script = BoxScript.Load("upload").Uses("hash").Set("MODE_STEP", step).Set("DIR", remoteDir).Set("FINAL", final).Set("PARTIAL", partial)
                .Set("SHA", localSha).Set("LENGTH", length).Set("PERMS", perms).Command;
            await controlGate.WaitAsync(ct).ConfigureAwait(false);
            CommandOutput output;
            try { output = await control.RunAsync(script, TimeSpan.FromMinutes(30), ct).ConfigureAwait(false); }
            finally { controlGate.Release(); }
            var sections = Parsing.ProbeSections.Parse(output.StdOut);
            if (sections.ExitCode("upload") != 0)
                throw new RgtException(step == "probe" ? "RemoteDirFailed" : "UploadCommitFailed", FailureKind.OperationFailed,
                    $"{host.Name}: {(step == "probe" ? $"cannot prepare {remoteDir}" : $"cannot finish {final}")}: {(sections.Has("upload") ? sections["upload"] : output.StdErr).Trim()}");
            return sections["upload"].Split('\n').Select(l => l.Split('\t')).ToArray();
        }

        // One round trip: create the directory, and report the final file's hash and mode and the partial's state.
        var probe = await Run("probe").ConfigureAwait(false);
        if (probe.FirstOrDefault(f => f[0] == "final") is { Length: 4 } fl && fl[1] == length.ToString(CultureInfo.InvariantCulture) && fl[2] == localSha)
        {
            if (perms is not null && Convert.ToInt32(fl[3], 8) != Convert.ToInt32(perms, 8)) await Run("commit").ConfigureAwait(false);
            progress.Add(length);
            return Result(host, localPath, final, length, localSha, false, 0, sw.Elapsed, "Skipped", "already on the box with the same size and SHA-256");
        }
        long offset = 0;
        if (probe.FirstOrDefault(f => f[0] == "partial") is { Length: 3 } pl && pl[2] == tag && long.TryParse(pl[1], out var len) && len <= length) offset = len;
        bool resumed = offset > 0;
        int attempts = 0;
        long counted = 0;
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
                    if (attempts > 1) offset = ResumeOffset(sftp, partial, tag, length);
                    if (offset > 0 && attempts > 1) resumed = true;
                    progress.Add(offset - counted);
                    counted = offset;
                    if (offset == 0)
                    {
                        using (var side = sftp.Create(partial + ".src")) { var b = System.Text.Encoding.ASCII.GetBytes(tag); side.Write(b, 0, b.Length); }
                        using var src = Open();
                        await Task.Run(() => sftp.UploadFile(src, partial, true, n => { var d = (long)n - counted; if (d > 0) { progress.Add(d); counted = (long)n; } }), ct).ConfigureAwait(false);
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
                            progress.Add(n);
                            counted += n;
                        }
                    }
                }
                progress.Add(length - counted);
                counted = length;
                var check = await Run("commit").ConfigureAwait(false);
                if (check.Any(f => f[0] == "OK"))
                    return Result(host, localPath, final, length, localSha, resumed, attempts, sw.Elapsed, "Uploaded", null);
                last = new RgtException("HashMismatch", FailureKind.InvalidData, $"{host.Name}:{partial}: the uploaded copy's SHA-256 differs ({string.Join(' ', check.Select(f => string.Join(' ', f))).Trim()})");
                progress.Add(-counted);
                counted = 0;
                offset = 0; resumed = false;
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

    /// <summary>How much of the partial is ours (its tag matches this file) and can be kept.</summary>
    static long ResumeOffset(SftpClient sftp, string partial, string tag, long length)
    {
        try
        {
            if (!sftp.Exists(partial) || !sftp.Exists(partial + ".src")) return 0;
            if (sftp.ReadAllText(partial + ".src").Trim() != tag) return 0;
            var size = sftp.GetAttributes(partial).Size;
            return size <= length ? size : 0;
        }
        catch (Renci.SshNet.Common.SftpPathNotFoundException) { return 0; }
    }

    /// <summary>The local file's permission bits as octal (e.g. 755), or null where the system has none (Windows).</summary>
    static string? Permissions(string localPath)
    {
        if (OperatingSystem.IsWindows() || !File.Exists(localPath)) return null;
        var mode = (int)File.GetUnixFileMode(localPath) & 0x1FF;
        return Convert.ToString(mode, 8).PadLeft(3, '0');
    }

    static GpuTransfer Result(GpuHost host, string local, string remote, long length, string sha, bool resumed, int attempts, TimeSpan d, string status, string? reason) => new()
    {
        Name = host.Name, LocalPath = local, RemotePath = remote, Length = length, Sha256 = sha, RemoteSha256 = sha, Resumed = resumed, Attempts = attempts, Duration = d, Status = status, Reason = reason,
    };
}
