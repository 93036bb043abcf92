using System.Text;
using System.Text.RegularExpressions;

namespace RemoteGpuTrainer.Engine.Hosts;

/// <summary>An SSH endpoint read from a connection string as platforms print it.</summary>
public sealed record ConnectionString(string HostName, int? Port, string? User, string? IdentityFile, IReadOnlyList<string> Notes)
{
    /// <summary>The jump hosts of -J / -o ProxyJump, as written ([user@]host[:port], comma separated); null without.</summary>
    public string? ProxyJump { get; init; }

    static readonly Regex HostNamePattern = new(@"^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$", RegexOptions.CultureInvariant);
    static readonly Regex UserPattern = new(@"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$", RegexOptions.CultureInvariant);

    /// <summary>
    /// Parses <c>ssh -p 38211 root@connect.westb.seetacloud.com</c>, <c>ssh root@1.2.3.4 -p 22022 -i ~/.ssh/id_ed25519</c>,
    /// <c>user@host:port</c>, <c>ssh://user@host:port</c>, <c>[::1]:2222</c>, a bare host or an ~/.ssh/config alias.
    /// Throws <see cref="RgtException"/> (ConnectionStringInvalid) naming what is wrong.
    /// </summary>
    public static ConnectionString Parse(string text)
    {
        if (string.IsNullOrWhiteSpace(text)) throw Invalid(text, "it is empty");
        if (text.Any(c => c == '\n' || c == '\r' || c == '\0')) throw Invalid(text, "it contains a line break or NUL character");
        var words = Tokenize(text);
        if (words.Count > 0 && words[0] == "ssh") words.RemoveAt(0);
        int? port = null; string? user = null; string? identity = null; string? target = null; string? jump = null;
        var notes = new List<string>();
        for (int i = 0; i < words.Count; i++)
        {
            var w = words[i];
            string NextArg() => i + 1 < words.Count ? words[++i] : throw Invalid(text, $"option {w} needs a value");
            if (w.StartsWith('-') && w.Length > 1)
            {
                // OpenSSH also accepts the value glued to the flag: -p2222, -iKEY.
                var flag = w.Substring(0, 2);
                string Arg() => w.Length > 2 ? w.Substring(2) : NextArg();
                switch (flag)
                {
                    case "-p": port = ParsePort(text, Arg()); break;
                    case "-i": identity = Arg(); break;
                    case "-l": user = Arg(); break;
                    case "-J": jump = Jumps(text, Arg()); break;
                    case "-o":
                        var opt = Arg();
                        var eq = opt.IndexOf('=');
                        var (key, value) = eq > 0 ? (opt[..eq].Trim(), opt[(eq + 1)..].Trim()) : (opt.Split(' ', 2)[0], opt.Split(' ', 2).ElementAtOrDefault(1) ?? "");
                        switch (key.ToLowerInvariant())
                        {
                            case "port": port = ParsePort(text, value); break;
                            case "user": user = value; break;
                            case "identityfile": identity = value; break;
                            case "hostname": target ??= value; break;
                            case "proxyjump": jump = Jumps(text, value); break;
                            default: notes.Add($"ignored ssh option -o {key} (host keys are always checked; keepalive and timeouts are the module's)"); break;
                        }
                        break;
                    case "-A": case "-C": case "-v": case "-4": case "-6": case "-T": case "-t": case "-q": case "-X": case "-Y": case "-N": case "-x": case "-a": case "-k":
                        if (w.Length > 2) throw Invalid(text, $"unknown option {w}");
                        notes.Add($"ignored ssh flag {w}");
                        break;
                    case "-L": case "-R": case "-D":
                        Arg(); notes.Add($"ignored port forwarding {w}"); break;
                    default: throw Invalid(text, $"unknown ssh option {w}");
                }
                continue;
            }
            if (target is not null) throw Invalid(text, $"unexpected '{w}' after the host (a remote command is not part of a connection string)");
            target = w;
        }
        if (target is null) throw Invalid(text, "no host was found");

        if (target.StartsWith("ssh://", StringComparison.OrdinalIgnoreCase)) target = target.Substring(6).TrimEnd('/');
        var at = target.LastIndexOf('@');
        if (at >= 0)
        {
            user ??= target[..at];
            target = target[(at + 1)..];
        }
        string host;
        if (target.StartsWith('['))
        {
            var close = target.IndexOf(']');
            if (close < 0) throw Invalid(text, "an IPv6 address opened with [ is not closed with ]");
            host = target[1..close];
            var rest = target[(close + 1)..];
            if (rest.Length > 0)
            {
                if (!rest.StartsWith(':')) throw Invalid(text, $"unexpected '{rest}' after ]");
                port = ParsePort(text, rest[1..]);
            }
            if (!System.Net.IPAddress.TryParse(host, out _)) throw Invalid(text, $"'{host}' is not an IP address");
        }
        else
        {
            var colon = target.LastIndexOf(':');
            host = target;
            if (colon >= 0)
            {
                if (target.IndexOf(':') != colon) throw Invalid(text, "an IPv6 address must be written in brackets, e.g. [2001:db8::1]:22");
                host = target[..colon];
                port = ParsePort(text, target[(colon + 1)..]);
            }
            if (!HostNamePattern.IsMatch(host)) throw Invalid(text, $"'{host}' is not a valid host name or address");
        }
        if (user is not null && !UserPattern.IsMatch(user)) throw Invalid(text, $"'{user}' is not a valid user name");
        if (identity is not null && (identity.Length == 0 || identity.Any(char.IsControl))) throw Invalid(text, "the identity file path is not valid");
        return new ConnectionString(host, port, user, identity, notes) { ProxyJump = jump };
    }

    /// <summary>A -J value checked hop by hop ([user@]host[:port], comma separated; "none" for none).</summary>
    static string? Jumps(string text, string value)
    {
        if (value.Equals("none", StringComparison.OrdinalIgnoreCase)) return null;
        foreach (var hop in value.Split(','))
        {
            try { Ssh.JumpHost.Parse(hop); }
            catch (RgtException ex) { throw Invalid(text, ex.Message); }
        }
        return value;
    }

    static int ParsePort(string text, string value)
    {
        if (int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var p) && p is >= 1 and <= 65535) return p;
        throw Invalid(text, $"'{value}' is not a port number (1-65535)");
    }

    static RgtException Invalid(string text, string why) =>
        new("ConnectionStringInvalid", FailureKind.InvalidArgument,
            $"Cannot read the connection string '{Printable(text)}': {why}. Examples: 'ssh -p 38211 root@connect.westb.seetacloud.com', 'root@1.2.3.4:22022', 'a100-box' (a Host of your ~/.ssh/config).");

    internal static string Printable(string text)
    {
        var sb = new StringBuilder();
        foreach (var c in text ?? "") sb.Append(char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString());
        return sb.ToString();
    }

    /// <summary>Splits like a POSIX shell would for a plain command line: whitespace, single and double quotes, backslash.</summary>
    internal static List<string> Tokenize(string text)
    {
        var words = new List<string>();
        var cur = new StringBuilder();
        bool inWord = false;
        for (int i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\'')
            {
                var end = text.IndexOf('\'', i + 1);
                if (end < 0) throw Invalid(text, "a single quote is not closed");
                cur.Append(text, i + 1, end - i - 1); i = end; inWord = true;
            }
            else if (c == '"')
            {
                var end = text.IndexOf('"', i + 1);
                if (end < 0) throw Invalid(text, "a double quote is not closed");
                cur.Append(text, i + 1, end - i - 1); i = end; inWord = true;
            }
            else if (c == '\\' && i + 1 < text.Length) { cur.Append(text[++i]); inWord = true; }
            else if (char.IsWhiteSpace(c))
            {
                if (inWord) { words.Add(cur.ToString()); cur.Clear(); inWord = false; }
            }
            else { cur.Append(c); inWord = true; }
        }
        if (inWord) words.Add(cur.ToString());
        return words;
    }
}
