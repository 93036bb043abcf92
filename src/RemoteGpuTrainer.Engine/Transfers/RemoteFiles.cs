using System.Globalization;
using RemoteGpuTrainer.Engine.Scripts;
using RemoteGpuTrainer.Engine.Ssh;

namespace RemoteGpuTrainer.Engine.Transfers;

/// <summary>A remote file: absolute path, path relative to the listed root, size and mtime (seconds).</summary>
public sealed record RemoteFile(string Path, string Relative, long Size, long MTime);

/// <summary>Listing and hashing on the box, one round trip each; NUL-separated so any file name survives.</summary>
public static class RemoteFiles
{
    public static string ListScript(string root) => BoxScript.Load("remote-list").Set("ROOT", root).Command;

    /// <summary>The files of a listing; a failed or cut-off listing is an error, never "0 files".</summary>
    public static List<RemoteFile> ParseListing(string hostName, string root, CommandOutput output)
    {
        var s = Parsing.ProbeSections.Parse(output.StdOut);
        if (s.ExitCode("list") != 0)
            throw new RgtException("ListingFailed", FailureKind.NotFound,
                $"{hostName}: cannot list {root}: {(s.Has("list") ? s["list"] : output.StdErr + output.StdOut).Trim()} (a failed listing is never '0 files').");
        return ParseList(root, s["list"]);
    }

    public static List<RemoteFile> ParseList(string root, string output)
    {
        var files = new List<RemoteFile>();
        foreach (var rec in output.Split('\0'))
        {
            if (rec.Length == 0) continue;
            var f = rec.Split('\t', 3);
            if (f.Length != 3) continue;
            var size = long.Parse(f[0], CultureInfo.InvariantCulture);
            var mtime = (long)double.Parse(f[1], CultureInfo.InvariantCulture);
            var isFile = f[2].StartsWith('/') || f[2] == root;
            var rel = isFile ? System.IO.Path.GetFileName(f[2]) : f[2];
            var path = isFile ? f[2] : root.TrimEnd('/') + "/" + f[2];
            files.Add(new RemoteFile(path, rel, size, mtime));
        }
        return files;
    }

    /// <summary>sha256sum of each file (remote-hash.sh), cached on the box per inode, size and nanosecond mtime.</summary>
    public static string HashScript(IEnumerable<string> paths) => BoxScript.Load("remote-hash").Arguments(paths).Command;

    /// <summary>The hashes the box reported; files it could not hash are absent (the caller fails them).</summary>
    public static Dictionary<string, string> ParseHashOutput(string output) => ParseHashes(Parsing.ProbeSections.Parse(output)["hashes"] + "\0");

    public static Dictionary<string, string> ParseHashes(string output) =>
        output.Split('\0').Select(r => r.Split('\t', 2)).Where(r => r.Length == 2 && r[0].Length == 64)
            .GroupBy(r => r[1]).ToDictionary(g => g.Key, g => g.Last()[0]);
}

/// <summary>Bytes moved so far and expected, updated from transfer threads, read by the pipeline thread.</summary>
public sealed class TransferProgress
{
    long _done, _total;
    public long Done => Interlocked.Read(ref _done);
    public long Total => Interlocked.Read(ref _total);
    public void AddTotal(long n) => Interlocked.Add(ref _total, n);
    public void Add(long n) => Interlocked.Add(ref _done, n);
}
