using System.Text.RegularExpressions;

namespace RemoteGpuTrainer.Engine.Transfers;

/// <summary>
/// Which files of a local tree a push leaves out: -Exclude patterns and the lines of a .rgtignore at
/// the tree's root ('#' comments, blank lines ignored). A pattern with no '/' (.git, __pycache__,
/// *.pt) matches any one path segment, a folder's or the file's name; a pattern with a '/'
/// (data/raw, logs/*.txt) matches the path from the root. '*' and '?' are wildcards within a segment.
/// </summary>
public sealed class ExcludeFilter
{
    public const string IgnoreFile = ".rgtignore";
    readonly List<(Regex Rx, bool Anchored)> _patterns = new();

    public ExcludeFilter(IEnumerable<string> patterns)
    {
        foreach (var raw in patterns)
        {
            var p = raw.Trim().Replace('\\', '/').Trim('/');
            if (p.Length == 0 || p.StartsWith('#')) continue;
            var rx = "^" + Regex.Escape(p).Replace("\\*", "[^/]*").Replace("\\?", "[^/]") + "$";
            _patterns.Add((new Regex(rx, RegexOptions.CultureInvariant), p.Contains('/')));
        }
    }

    /// <summary>-Exclude plus the .rgtignore of <paramref name="root"/> when it is a folder holding one.</summary>
    public static ExcludeFilter For(string root, IEnumerable<string>? exclude)
    {
        var patterns = new List<string>(exclude ?? Enumerable.Empty<string>());
        var ignore = Path.Combine(root, IgnoreFile);
        if (Directory.Exists(root) && File.Exists(ignore)) patterns.AddRange(File.ReadAllLines(ignore));
        return new ExcludeFilter(patterns);
    }

    /// <summary>True when <paramref name="relative"/> ('/'-separated, from the root) is left out.</summary>
    public bool Excludes(string relative)
    {
        if (relative == IgnoreFile) return true;
        var segments = relative.Split('/');
        foreach (var (rx, anchored) in _patterns)
        {
            if (anchored)
            {
                // data/raw leaves out everything below it too.
                for (int n = 1; n <= segments.Length; n++)
                    if (rx.IsMatch(string.Join('/', segments.Take(n)))) return true;
            }
            else if (segments.Any(rx.IsMatch)) return true;
        }
        return false;
    }
}
