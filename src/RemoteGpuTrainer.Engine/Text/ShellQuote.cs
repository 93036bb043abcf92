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

    /// <summary>Joins words into one command line, quoting each.</summary>
    public static string Join(IEnumerable<string> words) => string.Join(' ', words.Select(Quote));
}
