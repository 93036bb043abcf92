using System.Globalization;
using System.Text;
using RemoteGpuTrainer.Engine.Text;

namespace RemoteGpuTrainer.Engine.Transfers;

/// <summary>A remote file: absolute path, path relative to the listed root, size and mtime (seconds).</summary>
public sealed record RemoteFile(string Path, string Relative, long Size, long MTime);

/// <summary>Listing and hashing on the box, one round trip each; NUL-separated so any file name survives.</summary>
public static class RemoteFiles
{
    public static string ListScript(string root) =>
        $"export LC_ALL=C; r={ShellQuote.QuotePath(root)}; " +
        "if [ -f \"$r\" ]; then printf '%s\\t%s\\t%s\\0' \"$(stat -L -c %s \"$r\")\" \"$(stat -L -c %Y \"$r\")\" \"$r\"; exit 0; fi; " +
        "[ -d \"$r\" ] || { echo \"no such file or directory: $r\" >&2; exit 2; }; " +
        "[ -r \"$r\" ] && [ -x \"$r\" ] || { echo \"permission denied: $r\" >&2; exit 3; }; " +
        "cd \"$r\" && find -L . -type f ! -name '*.rgt-tmp' ! -name '.*.rgt-partial' -printf '%s\\t%T@\\t%P\\0'";

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

    /// <summary>sha256sum of each file, cached on the box under ~/.cache/rgt/sha256 keyed by path, size and mtime.</summary>
    public static string HashScript(IEnumerable<string> paths)
    {
        var sb = new StringBuilder("export LC_ALL=C; c=\"$HOME/.cache/rgt/sha256\"; mkdir -p \"$c\" 2>/dev/null\n");
        sb.Append("h() { k=$(printf '%s' \"$1\" | sha1sum | cut -c1-40); cur=$(stat -L -c '%s %Y' \"$1\") || return 1; ");
        sb.Append("if [ -f \"$c/$k\" ] && [ \"$(sed -n 1p \"$c/$k\")\" = \"$cur\" ]; then s=$(sed -n 2p \"$c/$k\"); ");
        sb.Append("else s=$(sha256sum < \"$1\" | cut -c1-64) || return 1; printf '%s\\n%s\\n' \"$cur\" \"$s\" > \"$c/$k.$$\" && mv -f \"$c/$k.$$\" \"$c/$k\"; fi; printf '%s\\t%s\\0' \"$s\" \"$1\"; }\n");
        foreach (var p in paths) sb.Append("h ").Append(ShellQuote.QuotePath(p)).Append('\n');
        return sb.ToString();
    }

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
