namespace RemoteGpuTrainer.Engine.Ssh;

/// <summary>The options ~/.ssh/config gives for one host alias (first value wins, as in OpenSSH).</summary>
public sealed class SshConfigEntry
{
    public string? HostName { get; internal set; }
    public int? Port { get; internal set; }
    public string? User { get; internal set; }
    public List<string> IdentityFiles { get; } = new();
    public int? ConnectTimeout { get; internal set; }
    public int? ServerAliveInterval { get; internal set; }
    public int? ServerAliveCountMax { get; internal set; }
    public string? ProxyJump { get; internal set; }
    public string? ProxyCommand { get; internal set; }
    public string? IdentityAgent { get; internal set; }
    public bool? IdentitiesOnly { get; internal set; }
    public List<string> UserKnownHostsFiles { get; } = new();
    /// <summary>A Host line names this alias itself (not only through a wildcard such as Host *).</summary>
    public bool NamedHost { get; internal set; }
}

/// <summary>
/// A reader for OpenSSH client configuration: Host blocks with patterns (*, ?, !negation), Match
/// blocks skipped, Include followed, keywords case-insensitive, "Key Value" or "Key=Value".
/// </summary>
public static class SshConfigFile
{
    public static string DefaultPath => Path.Combine(ConfigPaths.SshDirectory, "config");

    public static SshConfigEntry Resolve(string alias, string? path = null)
    {
        var entry = new SshConfigEntry();
        path ??= DefaultPath;
        if (File.Exists(path)) Apply(entry, alias, path, depth: 0);
        return entry;
    }

    static void Apply(SshConfigEntry e, string alias, string path, int depth)
    {
        if (depth > 8) return;
        bool active = true;
        int lineNo = 0;
        foreach (var raw in File.ReadLines(path))
        {
            lineNo++;
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            var (key, value) = Split(line);
            if (key.Length == 0) continue;
            switch (key)
            {
                case "host":
                    active = HostMatches(alias, value);
                    if (active && value.Split(' ', '\t').Any(p => string.Equals(p.Trim('"'), alias, StringComparison.OrdinalIgnoreCase))) e.NamedHost = true;
                    continue;
                case "match":
                    active = false; // Match criteria need a full evaluator; skipping is safer than guessing.
                    continue;
                case "include":
                    if (!active) continue;
                    foreach (var inc in ExpandInclude(value, path)) Apply(e, alias, inc, depth + 1);
                    continue;
            }
            if (!active) continue;
            try
            {
                switch (key)
                {
                    case "hostname": e.HostName ??= value.Replace("%h", alias); break;
                    case "port": e.Port ??= int.Parse(value, System.Globalization.CultureInfo.InvariantCulture); break;
                    case "user": e.User ??= value; break;
                    case "identityfile": e.IdentityFiles.Add(ConfigPaths.ExpandHome(Unquote(value))); break;
                    case "connecttimeout": e.ConnectTimeout ??= int.Parse(value, System.Globalization.CultureInfo.InvariantCulture); break;
                    case "serveraliveinterval": e.ServerAliveInterval ??= int.Parse(value, System.Globalization.CultureInfo.InvariantCulture); break;
                    case "serveralivecountmax": e.ServerAliveCountMax ??= int.Parse(value, System.Globalization.CultureInfo.InvariantCulture); break;
                    case "proxyjump": if (e.ProxyJump is null && e.ProxyCommand is null) e.ProxyJump = value; break;
                    case "proxycommand": if (e.ProxyJump is null && e.ProxyCommand is null) e.ProxyCommand = value; break;
                    case "identityagent": e.IdentityAgent ??= Unquote(value); break;
                    case "identitiesonly": e.IdentitiesOnly ??= value.Equals("yes", StringComparison.OrdinalIgnoreCase); break;
                    case "userknownhostsfile":
                        if (e.UserKnownHostsFiles.Count == 0)
                            e.UserKnownHostsFiles.AddRange(value.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(v => ConfigPaths.ExpandHome(Unquote(v))));
                        break;
                }
            }
            catch (FormatException)
            {
                throw new RgtException("SshConfigInvalid", FailureKind.InvalidData,
                    $"{path} line {lineNo}: '{value}' is not a number for {key}.");
            }
        }
    }

    static (string Key, string Value) Split(string line)
    {
        int i = 0;
        while (i < line.Length && !char.IsWhiteSpace(line[i]) && line[i] != '=') i++;
        var key = line[..i].ToLowerInvariant();
        var rest = line[i..].TrimStart();
        if (rest.StartsWith('=')) rest = rest[1..].TrimStart();
        return (key, rest.Trim());
    }

    static string Unquote(string v) => v.Length >= 2 && v[0] == '"' && v[^1] == '"' ? v[1..^1] : v;

    /// <summary>OpenSSH Host matching: any positive pattern matches and no negated pattern matches.</summary>
    internal static bool HostMatches(string alias, string patterns)
    {
        bool matched = false;
        foreach (var p in patterns.Split(new[] { ' ', '\t', ',' }, StringSplitOptions.RemoveEmptyEntries))
        {
            var pat = Unquote(p);
            if (pat.StartsWith('!'))
            {
                if (Platforms.Glob.IsMatch(alias, pat[1..])) return false;
            }
            else if (Platforms.Glob.IsMatch(alias, pat)) matched = true;
        }
        return matched;
    }

    static IEnumerable<string> ExpandInclude(string value, string from)
    {
        foreach (var item in value.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var p = ConfigPaths.ExpandHome(Unquote(item));
            if (!Path.IsPathRooted(p)) p = Path.Combine(ConfigPaths.SshDirectory, p);
            var dir = Path.GetDirectoryName(p)!;
            var pattern = Path.GetFileName(p);
            if (!Directory.Exists(dir)) continue;
            foreach (var f in Directory.EnumerateFiles(dir).Where(f => Platforms.Glob.IsMatch(Path.GetFileName(f), pattern)).Order(StringComparer.Ordinal))
                if (!string.Equals(Path.GetFullPath(f), Path.GetFullPath(from), StringComparison.Ordinal)) yield return f;
        }
    }
}
