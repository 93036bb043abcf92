using System.Text;

namespace RemoteGpuTrainer.Engine.Text;

/// <summary>The one quoting function for everything sent to a remote POSIX shell.</summary>
public static class ShellQuote
{
    /// <summary>
    /// Quotes <paramref name="value"/> as one POSIX shell word: single quotes, with each embedded
    /// single quote written as <c>'\''</c>. Nothing inside single quotes is special to sh, bash or
    /// dash, so $(), backticks, newlines and non-ASCII text arrive unchanged.
    /// </summary>
    public static string Quote(string? value)
    {
        if (string.IsNullOrEmpty(value)) return "''";
        var sb = new StringBuilder(value.Length + 2);
        sb.Append('\'');
        foreach (var c in value)
        {
            if (c == '\0') throw new ArgumentException("A NUL character cannot be passed to a remote shell.", nameof(value));
            if (c == '\'') sb.Append("'\\''");
            else sb.Append(c);
        }
        sb.Append('\'');
        return sb.ToString();
    }

    /// <summary>
    /// Quotes a remote path that may start with <c>~/</c> or an environment variable such as
    /// <c>$HOME/</c> or <c>$TMPDIR</c> (as platform profiles write them): that prefix stays
    /// expandable, double-quoted, and the rest is single-quoted.
    /// </summary>
    public static string QuotePath(string path)
    {
        if (path == "~") return "\"$HOME\"";
        if (path.StartsWith("~/", StringComparison.Ordinal)) return "\"$HOME\"/" + Quote(path.Substring(2));
        var m = LeadingVariable.Match(path);
        if (m.Success)
        {
            var rest = path.Substring(m.Length);
            return "\"$" + m.Groups[1].Value + "\"" + (rest.Length == 0 ? "" : Quote(rest));
        }
        return Quote(path);
    }

    static readonly System.Text.RegularExpressions.Regex LeadingVariable =
        new(@"^\$([A-Z_][A-Z0-9_]*)(?=/|$)", System.Text.RegularExpressions.RegexOptions.CultureInvariant);

    /// <summary>Joins words into one command line, quoting each.</summary>
    public static string Join(IEnumerable<string> words) => string.Join(' ', words.Select(Quote));
}
