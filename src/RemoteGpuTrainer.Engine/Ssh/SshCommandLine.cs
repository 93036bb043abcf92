using System.Text.RegularExpressions;

namespace RemoteGpuTrainer.Engine.Ssh;

/// <summary>A local port forwarded to a port on the box's loopback (ssh -L LOCAL:localhost:REMOTE).</summary>
public sealed record PortForward(int Local, int Remote)
{
    static readonly Regex Shape = new(@"^(\d{1,5})(?::(\d{1,5}))?$", RegexOptions.CultureInvariant);

    /// <summary>"6006" (the same port on both ends) or "16006:6006" (local:remote).</summary>
    public static PortForward Parse(string text)
    {
        var m = Shape.Match(text.Trim());
        int Port(string s) => int.TryParse(s, out var p) && p is > 0 and < 65536 ? p
            : throw new RgtException("PortForwardInvalid", FailureKind.InvalidArgument, $"'{text}' is not a port forward: give a port (6006) or local:remote (16006:6006), each 1-65535.");
        if (!m.Success) Port("x");
        var local = Port(m.Groups[1].Value);
        return new PortForward(local, m.Groups[2].Success ? Port(m.Groups[2].Value) : local);
    }
}

/// <summary>
/// The system ssh command line that reaches a host the way the module does: its port, user and
/// keys, the module's known_hosts (checked strictly: an unknown or changed key is refused there too),
/// keepalive, optional port forwards and a command to run in a terminal.
/// </summary>
public static class SshCommandLine
{
    public static IReadOnlyList<string> Arguments(SshTarget target, IEnumerable<PortForward>? forwards = null, string? remoteCommand = null)
    {
        var args = new List<string> { "-p", target.Port.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        foreach (var id in target.IdentityFiles) { args.Add("-i"); args.Add(id); }
        args.Add("-o"); args.Add("UserKnownHostsFile=" + string.Join(' ', target.KnownHostsFiles.Select(Quoted)));
        args.Add("-o"); args.Add("StrictHostKeyChecking=yes");
        args.Add("-o"); args.Add("ServerAliveInterval=" + (int)target.KeepAliveInterval.TotalSeconds);
        args.Add("-o"); args.Add("ServerAliveCountMax=" + target.KeepAliveCountMax);
        foreach (var f in forwards ?? Enumerable.Empty<PortForward>())
        {
            args.Add("-L"); args.Add($"{f.Local}:localhost:{f.Remote}");
        }
        if (target.Jumps.Count > 0)
        {
            args.Add("-J");
            args.Add(string.Join(",", target.Jumps.Select(j => $"{j.User}@{(j.HostName.Contains(':') ? "[" + j.HostName + "]" : j.HostName)}:{j.Port}")));
        }
        if (remoteCommand is not null) args.Add("-t");
        args.Add($"{target.User}@{target.HostName}");
        if (remoteCommand is not null) args.Add(remoteCommand);
        return args;
    }

    /// <summary>ssh's own quoting inside an -o value: double quotes around a path with a space.</summary>
    static string Quoted(string path) => path.Contains(' ') ? "\"" + path + "\"" : path;
}
