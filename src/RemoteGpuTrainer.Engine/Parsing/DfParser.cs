using System.Globalization;

namespace RemoteGpuTrainer.Engine.Parsing;

/// <summary>One mount as df reports it: bytes from `df -Pk`, inodes from `df -iP`.</summary>
public sealed record DfRow(string FileSystem, long Total, long Used, long Available, int? UsePercent, string MountedOn);

public static class DfParser
{
    /// <summary>
    /// Parses POSIX df output (header line, then one line per file system). Sizes in 1024-byte
    /// blocks are multiplied by <paramref name="unit"/>; "-" values (proc, sysfs) become 0.
    /// </summary>
    public static IReadOnlyList<DfRow> Parse(string text, long unit = 1)
    {
        var rows = new List<DfRow>();
        foreach (var raw in text.Replace("\r\n", "\n").Split('\n'))
        {
            var line = raw.TrimEnd();
            if (line.Length == 0 || line.StartsWith("Filesystem", StringComparison.Ordinal)) continue;
            var f = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 6) continue;
            // Mount points may contain spaces: columns 1..4 are numbers, the mount is the rest.
            int n = f.Length;
            int first = 1;
            while (first + 4 < n && !IsNumberOrDash(f[first])) first++;
            if (!IsNumberOrDash(f[first]) || !IsNumberOrDash(f[first + 1]) || !IsNumberOrDash(f[first + 2])) continue;
            var fs = string.Join(' ', f.Take(first));
            var mount = string.Join(' ', f.Skip(first + 4));
            rows.Add(new DfRow(fs, Num(f[first]) * unit, Num(f[first + 1]) * unit, Num(f[first + 2]) * unit, Percent(f[first + 3]), mount));
        }
        return rows;
    }

    /// <summary>The first row of `df -Pk DIR; df -iP DIR` output run together: (bytes, inodes).</summary>
    public static (DfRow? Bytes, DfRow? Inodes) BytesAndInodes(string text)
    {
        var at = text.IndexOf("\nFilesystem", StringComparison.Ordinal);
        var bytes = Parse(at > 0 ? text[..at] : text, 1024).FirstOrDefault();
        var inodes = at > 0 ? Parse(text[at..]).FirstOrDefault() : null;
        return (bytes, inodes);
    }

    static bool IsNumberOrDash(string s) => s == "-" || Human(s) is not null;

    static long Num(string s) => Human(s) ?? 0;

    /// <summary>A count, or df -h / -hi's human form (955M, 1.2K, 5.5G: powers of 1024).</summary>
    static long? Human(string s)
    {
        if (long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var v)) return v;
        if (s.Length < 2) return null;
        var exp = "KMGTPE".IndexOf(char.ToUpperInvariant(s[^1]));
        if (exp < 0 || !double.TryParse(s[..^1], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var d)) return null;
        return (long)(d * Math.Pow(1024, exp + 1));
    }

    static int? Percent(string s) => int.TryParse(s.TrimEnd('%'), NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : null;
}
