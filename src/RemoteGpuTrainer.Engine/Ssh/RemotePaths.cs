using System.Text.RegularExpressions;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Scripts;

namespace RemoteGpuTrainer.Engine.Ssh;

/// <summary>
/// Resolves remote paths on the box once (a path it cannot resolve is refused, never guessed): a leading <c>~</c> and every
/// <c>$NAME</c> / <c>${NAME}</c> become the box's values, a relative path is taken from the remote
/// home, so SFTP and the shell use the same absolute path. An unset variable is an error, never an
/// empty string (which would turn <c>$TMPDIR/.rgt</c> into <c>/.rgt</c>).
/// </summary>
public static class RemotePaths
{
    static readonly Regex Variable = new(@"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))", RegexOptions.CultureInvariant);

    /// <summary>True when the path needs the box to resolve it.</summary>
    public static bool NeedsBox(string? path) =>
        !string.IsNullOrEmpty(path) && (!path.StartsWith('/') || path.Contains('$'));

    /// <summary>The variables a path refers to (HOME for a leading ~ or a relative path).</summary>
    public static IEnumerable<string> VariablesOf(string path)
    {
        if (!path.StartsWith('/')) yield return "HOME";
        foreach (Match m in Variable.Matches(path)) yield return m.Groups[1].Success ? m.Groups[1].Value : m.Groups[2].Value;
    }

    public static string Script(IEnumerable<string> variables) => BoxScript.Load("env").Arguments(variables.Distinct(StringComparer.Ordinal)).Command;

    public static IReadOnlyDictionary<string, string?> ParseEnv(string output)
    {
        var s = Parsing.ProbeSections.Parse(output);
        if (s.ExitCode("env") != 0) throw new RgtException("RemotePathUnresolved", FailureKind.OperationFailed, $"the box did not report its environment: {s["env"]}");
        var values = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var rec in (s["env"] + "\n").Split('\0'))
        {
            var f = rec.TrimStart('\n').Split('\t', 3);
            if (f.Length == 3 && f[0] == "set") values[f[1]] = f[2];
            else if (f.Length == 2 && f[0] == "unset") values[f[1]] = null;
        }
        return values;
    }

    /// <summary>Expands one path with the box's values.</summary>
    public static string Expand(string hostName, string path, IReadOnlyDictionary<string, string?> env)
    {
        string Value(string name, string what) =>
            env.TryGetValue(name, out var v) && !string.IsNullOrEmpty(v) ? v!
                : throw new RgtException("RemotePathUnresolved", FailureKind.InvalidArgument,
                    $"{hostName}: cannot resolve the remote path '{path}': ${name} is {(env.TryGetValue(name, out var set) && set is not null ? "empty" : "not set")} on the box ({what}). Use an absolute path, e.g. Set-GpuHost {hostName} -DataDir /root/proj.");
        var p = path;
        if (p == "~" || p.StartsWith("~/", StringComparison.Ordinal)) p = Value("HOME", "needed for ~").TrimEnd('/') + p[1..];
        else if (p.StartsWith('~'))
            throw new RgtException("RemotePathUnresolved", FailureKind.InvalidArgument, $"{hostName}: cannot resolve the remote path '{path}': ~user is not supported; give an absolute path.");
        p = Variable.Replace(p, m =>
        {
            var name = m.Groups[1].Success ? m.Groups[1].Value : m.Groups[2].Value;
            return Value(name, "the path refers to it");
        });
        if (!p.StartsWith('/')) p = Value("HOME", "a relative path starts there").TrimEnd('/') + "/" + p;
        return p.Length > 1 ? p.TrimEnd('/') : p;
    }

    /// <summary>Resolves the given paths on the box in one round trip (none when all are absolute already).</summary>
    public static async Task<IReadOnlyList<string?>> ResolveAsync(IHostShell shell, string hostName, IReadOnlyList<string?> paths, CancellationToken ct)
    {
        if (!paths.Any(NeedsBox)) return paths;
        var names = paths.Where(NeedsBox).SelectMany(p => VariablesOf(p!)).ToList();
        var output = await shell.RunAsync(Script(names), TimeSpan.FromSeconds(30), ct).ConfigureAwait(false);
        var env = ParseEnv(output.StdOut);
        return paths.Select(p => NeedsBox(p) ? Expand(hostName, p!, env) : p).ToList();
    }

    /// <summary>The host with DataDir, DurableDir and CredFile resolved to absolute paths on the box.</summary>
    public static async Task<GpuHost> ResolveHostAsync(IHostShell shell, GpuHost host, CancellationToken ct)
    {
        var r = await ResolveAsync(shell, host.Name, new[] { host.DataDir, host.DurableDir, host.CredFile }, ct).ConfigureAwait(false);
        return host with { DataDir = r[0], DurableDir = r[1], CredFile = r[2] };
    }
}
