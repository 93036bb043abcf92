using System.Text.RegularExpressions;

namespace RemoteGpuTrainer.Engine.Ssh;

/// <summary>
/// One hop of a ProxyJump list: [user@]host[:port] (or ssh://…), each resolved through ~/.ssh/config
/// as `ssh host` would (its HostName, Port, User, IdentityFile). A ProxyCommand is read only in the
/// form that is a jump in disguise (ssh -W %h:%p [-p port] [user@]host); any other is refused, named.
/// </summary>
public static class JumpHost
{
    /// <summary>The hops of a ProxyJump value; empty for "none".</summary>
    public static IReadOnlyList<(string Host, int? Port, string? User)> ParseList(string value) =>
        value.Trim().Equals("none", StringComparison.OrdinalIgnoreCase) ? Array.Empty<(string, int?, string?)>() : value.Split(',').Select(Parse).ToList();

    public static (string Host, int? Port, string? User) Parse(string hop)
    {
        var h = hop.Trim();
        if (h.StartsWith("ssh://", StringComparison.OrdinalIgnoreCase)) h = h[6..].TrimEnd('/');
        var m = Regex.Match(h, @"^(?:(?<user>[A-Za-z0-9_][A-Za-z0-9_.-]{0,63})@)?(?:\[(?<v6>[0-9A-Fa-f:.]+)\]|(?<host>[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?))(?::(?<port>\d{1,5}))?$", RegexOptions.CultureInvariant);
        if (!m.Success || (m.Groups["port"].Success && int.Parse(m.Groups["port"].Value, System.Globalization.CultureInfo.InvariantCulture) is < 1 or > 65535))
            throw new RgtException("ProxyJumpInvalid", FailureKind.InvalidArgument, $"'{Hosts.ConnectionString.Printable(hop)}' is not a jump host: write [user@]host[:port], several separated by commas");
        return (m.Groups["v6"].Success ? m.Groups["v6"].Value : m.Groups["host"].Value,
            m.Groups["port"].Success ? int.Parse(m.Groups["port"].Value, System.Globalization.CultureInfo.InvariantCulture) : null,
            m.Groups["user"].Success ? m.Groups["user"].Value : null);
    }

    /// <summary>
    /// The ProxyJump a ProxyCommand stands for: "ssh [-q] [-p PORT] [-l USER] -W %h:%p [user@]host" (any order);
    /// anything else (nc, connect-proxy, a cloud CLI's tunnel) is refused with the reason.
    /// </summary>
    public static string FromProxyCommand(string command, string forHost)
    {
        var words = Hosts.ConnectionString.Tokenize(command);
        string? host = null, user = null, port = null;
        bool forward = false;
        for (int i = 1; i < words.Count && words[0] == "ssh"; i++)
        {
            var w = words[i];
            string Next() => i + 1 < words.Count ? words[++i] : "";
            switch (w)
            {
                case "-W": forward = Next() is "%h:%p" or "[%h]:%p"; break;
                case "-p": port = Next(); break;
                case "-l": user = Next(); break;
                case "-q": case "-T": case "-x": case "-a": break;
                default:
                    if (w.StartsWith('-') || host is not null) { forward = false; i = words.Count; break; }
                    host = w;
                    break;
            }
        }
        if (words.Count == 0 || words[0] != "ssh" || !forward || host is null)
            throw new RgtException("ProxyCommandUnsupported", FailureKind.InvalidArgument,
                $"~/.ssh/config gives '{forHost}' the ProxyCommand '{Hosts.ConnectionString.Printable(command)}'. RemoteGpuTrainer runs no local proxy program; " +
                "it reads only the form that is a jump host (ssh -W %h:%p [-p port] [user@]jumphost). Write it as ProxyJump [user@]jumphost[:port], or reach the box directly.");
        return (user is null || host.Contains('@') ? "" : user + "@") + host + (port is null ? "" : ":" + port);
    }
}
