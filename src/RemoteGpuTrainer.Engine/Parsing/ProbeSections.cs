namespace RemoteGpuTrainer.Engine.Parsing;

/// <summary>
/// Reads the wire format of the box scripts (Scripts/wire.sh): "@@RGT name" opens a section, each
/// line of its output follows behind "|", "@@RGT name rc=N" closes it. Lines without the "|" are
/// never content, so a log line cannot end or forge a section.
/// </summary>
public sealed class ProbeSections
{
    public const string Marker = "@@RGT ";
    readonly Dictionary<string, string> _text = new(StringComparer.Ordinal);
    readonly Dictionary<string, int> _rc = new(StringComparer.Ordinal);

    public static ProbeSections Parse(string output)
    {
        var s = new ProbeSections();
        string? current = null;
        var sb = new System.Text.StringBuilder();
        foreach (var line in output.Replace("\r\n", "\n").Split('\n'))
        {
            if (line.StartsWith('|'))
            {
                if (current is not null) sb.Append(line, 1, line.Length - 1).Append('\n');
                continue;
            }
            if (!line.StartsWith(Marker, StringComparison.Ordinal)) continue;
            var rest = line.Substring(Marker.Length).Trim();
            var rcAt = rest.IndexOf(" rc=", StringComparison.Ordinal);
            if (rcAt > 0)
            {
                var name = rest[..rcAt];
                if (name == current)
                {
                    s._text[name] = sb.ToString();
                    if (int.TryParse(rest[(rcAt + 4)..], out var rc)) s._rc[name] = rc;
                    current = null;
                    sb.Clear();
                }
                continue;
            }
            current = rest;
            sb.Clear();
        }
        // A section cut off before its end marker (a dropped connection) has no exit code: unknown, not 0.
        if (current is not null) s._text[current] = sb.ToString();
        return s;
    }

    public bool Has(string name) => _text.ContainsKey(name);

    public string this[string name] => _text.TryGetValue(name, out var t) ? t.TrimEnd('\n') : "";

    /// <summary>The section's exit status; null when the section is missing or was cut off.</summary>
    public int? ExitCode(string name) => _rc.TryGetValue(name, out var rc) ? rc : null;

    /// <summary>Frames text as the scripts do: for unit tests and for nesting one script's output in another's section.</summary>
    public static string Frame(string name, string content, int rc = 0) =>
        $"{Marker}{name}\n" + string.Concat(content.Replace("\r\n", "\n").TrimEnd('\n').Split('\n').Select(l => "|" + l + "\n")) + $"\n{Marker}{name} rc={rc}\n";
}
