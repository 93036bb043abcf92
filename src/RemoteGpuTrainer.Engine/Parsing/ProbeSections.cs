namespace RemoteGpuTrainer.Engine.Parsing;

/// <summary>
/// A probe prints each command's output behind a marker line "@@RGT <name>" (and "@@RGT <name> rc=N"
/// after it), so one round trip can carry many outputs; this splits them again.
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
        void Flush()
        {
            if (current is not null) s._text[current] = sb.ToString();
            sb.Clear();
        }
        foreach (var line in output.Replace("\r\n", "\n").Split('\n'))
        {
            if (line.StartsWith(Marker, StringComparison.Ordinal))
            {
                var rest = line.Substring(Marker.Length).Trim();
                var rcAt = rest.IndexOf(" rc=", StringComparison.Ordinal);
                if (rcAt > 0)
                {
                    if (int.TryParse(rest[(rcAt + 4)..], out var rc)) s._rc[rest[..rcAt]] = rc;
                    continue;
                }
                Flush();
                current = rest;
                continue;
            }
            if (current is not null) sb.Append(line).Append('\n');
        }
        Flush();
        return s;
    }

    public bool Has(string name) => _text.ContainsKey(name);

    public string this[string name] => _text.TryGetValue(name, out var t) ? t.TrimEnd('\n') : "";

    public int? ExitCode(string name) => _rc.TryGetValue(name, out var rc) ? rc : null;

    /// <summary>
    /// Shell text that prints a section: marker, the command's output (stderr too), then its exit
    /// code. The command runs in a subshell so its own `exit` ends only that section; a newline is
    /// printed before the exit-code marker because recorded outputs often lack a final one.
    /// </summary>
    public static string Emit(string name, string command) =>
        $"echo '{Marker}{name}'; ( {command} ) 2>&1; rgt_rc=$?; echo; echo \"{Marker}{name} rc=$rgt_rc\"\n";
}
