using System.Security.Cryptography;
using System.Text;

namespace RemoteGpuTrainer.Engine.Ssh;

public enum HostKeyStatus { Known, Unknown, Changed, Revoked }

/// <summary>The result of checking a presented host key against known_hosts.</summary>
public sealed record HostKeyCheck(HostKeyStatus Status, string KeyType, string Fingerprint, string? KnownFingerprint, string? KnownFile, int? KnownLine);

/// <summary>
/// OpenSSH known_hosts: plain names, comma lists, wildcards and negations, hashed entries
/// (|1|salt|hmac), [host]:port for non-22 ports, and the @revoked marker. Keys are compared as
/// wire-format blobs; fingerprints are OpenSSH's SHA256:base64 form.
/// </summary>
public sealed class KnownHosts
{
    readonly IReadOnlyList<string> _files;

    public KnownHosts(IEnumerable<string>? files = null)
    {
        _files = files?.ToList() is { Count: > 0 } list ? list : new List<string> { DefaultFile };
    }

    public static string DefaultFile => Path.Combine(ConfigPaths.SshDirectory, "known_hosts");

    /// <summary>The file new keys are appended to (the first one).</summary>
    public string WriteFile => _files[0];

    public static string HostKey(string host, int port) => port == 22 ? host : $"[{host}]:{port}";

    public static string Fingerprint(byte[] blob) => "SHA256:" + Convert.ToBase64String(SHA256.HashData(blob)).TrimEnd('=');

    public static string KeyTypeOf(byte[] blob)
    {
        if (blob.Length < 4) return "unknown";
        int len = (blob[0] << 24) | (blob[1] << 16) | (blob[2] << 8) | blob[3];
        return len > 0 && len <= blob.Length - 4 ? Encoding.ASCII.GetString(blob, 4, len) : "unknown";
    }

    /// <summary>The key types recorded for this host, for steering the key exchange to them.</summary>
    public IReadOnlySet<string> KnownKeyTypes(string host, int port) =>
        Entries(host, port).Where(e => !e.Revoked).Select(e => e.KeyType).ToHashSet(StringComparer.Ordinal);

    public HostKeyCheck Check(string host, int port, byte[] blob)
    {
        var type = KeyTypeOf(blob);
        var fp = Fingerprint(blob);
        HostKeyCheck? changed = null, otherType = null;
        foreach (var e in Entries(host, port))
        {
            if (e.Revoked)
            {
                if (e.Blob.AsSpan().SequenceEqual(blob)) return new HostKeyCheck(HostKeyStatus.Revoked, type, fp, fp, e.File, e.Line);
                continue;
            }
            if (e.KeyType != type)
            {
                // The box is known by a key of another type, and we offered only the known types: it no longer has that key.
                otherType ??= new HostKeyCheck(HostKeyStatus.Changed, type, fp, Fingerprint(e.Blob), e.File, e.Line);
                continue;
            }
            if (e.Blob.AsSpan().SequenceEqual(blob)) return new HostKeyCheck(HostKeyStatus.Known, type, fp, fp, e.File, e.Line);
            changed ??= new HostKeyCheck(HostKeyStatus.Changed, type, fp, Fingerprint(e.Blob), e.File, e.Line);
        }
        return changed ?? otherType ?? new HostKeyCheck(HostKeyStatus.Unknown, type, fp, null, null, null);
    }

    /// <summary>A presented key against the keys pinned for one box: Known when it is one of them, else Changed (with no known_hosts line to name).</summary>
    public static HostKeyCheck CheckPinned(IReadOnlyList<byte[]> pinned, byte[] blob)
    {
        var fp = Fingerprint(blob);
        return pinned.Any(p => p.AsSpan().SequenceEqual(blob))
            ? new HostKeyCheck(HostKeyStatus.Known, KeyTypeOf(blob), fp, fp, null, null)
            : new HostKeyCheck(HostKeyStatus.Changed, KeyTypeOf(blob), fp, string.Join(", ", pinned.Select(Fingerprint)), null, null);
    }

    /// <summary>The keys recorded for exactly host:port on a plain line of its own: a box's own pin, not a wildcard's or a hashed line's.</summary>
    public IReadOnlyList<byte[]> PinnedKeysOf(string host, int port) =>
        Entries(host, port).Where(e => !e.Revoked && string.Equals(e.Field, HostKey(host, port), StringComparison.OrdinalIgnoreCase)).Select(e => e.Blob).ToList();

    /// <summary>The keys host:port is known by (not the revoked ones).</summary>
    public IReadOnlyList<byte[]> KeysOf(string host, int port) => Entries(host, port).Where(e => !e.Revoked).Select(e => e.Blob).ToList();

    /// <summary>Appends a plain entry for host:port under a lock.</summary>
    public void Add(string host, int port, byte[] blob)
    {
        using var _ = FileLock.Acquire(WriteFile, TimeSpan.FromSeconds(10));
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(WriteFile))!);
        var line = $"{HostKey(host, port)} {KeyTypeOf(blob)} {Convert.ToBase64String(blob)}\n";
        var needsNewline = File.Exists(WriteFile) && new FileInfo(WriteFile).Length > 0 && !File.ReadAllText(WriteFile).EndsWith('\n');
        File.AppendAllText(WriteFile, (needsNewline ? "\n" : "") + line);
    }

    /// <summary>
    /// Drops the entries for host:port from the file keys are written to (a released cloud rental's
    /// address goes to someone else's machine next; a moved one's old address is not its own any more).
    /// Lines naming other hosts too, hashed entries and @revoked markers stay. Returns how many went.
    /// </summary>
    public int Forget(string host, int port)
    {
        if (!File.Exists(WriteFile)) return 0;
        using var _ = FileLock.Acquire(WriteFile, TimeSpan.FromSeconds(10));
        var name = HostKey(host, port);
        var lines = File.ReadAllLines(WriteFile);
        var kept = lines.Where(l => l.Trim().Split(new[] { ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries) is not { Length: >= 3 } parts
            || !string.Equals(parts[0], name, StringComparison.OrdinalIgnoreCase)).ToList();
        if (kept.Count == lines.Length) return 0;
        var temp = WriteFile + ".rgt-tmp";
        File.WriteAllText(temp, string.Concat(kept.Select(l => l + "\n")));
        File.Move(temp, WriteFile, overwrite: true);
        return lines.Length - kept.Count;
    }

    sealed record Entry(string KeyType, byte[] Blob, bool Revoked, string File, int Line, string Field);

    IEnumerable<Entry> Entries(string host, int port)
    {
        var name = HostKey(host, port);
        foreach (var file in _files)
        {
            if (!File.Exists(file)) continue;
            int lineNo = 0;
            foreach (var raw in File.ReadLines(file))
            {
                lineNo++;
                var line = raw.Trim();
                if (line.Length == 0 || line.StartsWith('#')) continue;
                var parts = line.Split(new[] { ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries);
                bool revoked = false;
                int i = 0;
                if (parts[0].StartsWith('@'))
                {
                    if (parts[0] == "@revoked") revoked = true;
                    else continue; // @cert-authority: certificates are not used here
                    i = 1;
                }
                if (parts.Length < i + 3) continue;
                if (!HostFieldMatches(parts[i], name)) continue;
                byte[] blob;
                try { blob = Convert.FromBase64String(parts[i + 2]); }
                catch (FormatException) { continue; }
                yield return new Entry(parts[i + 1], blob, revoked, file, lineNo, parts[i]);
            }
        }
    }

    static bool HostFieldMatches(string field, string name)
    {
        if (field.StartsWith("|1|", StringComparison.Ordinal))
        {
            var bits = field.Split('|');
            if (bits.Length != 4) return false;
            try
            {
                var salt = Convert.FromBase64String(bits[2]);
                var expected = Convert.FromBase64String(bits[3]);
                using var hmac = new HMACSHA1(salt);
                return CryptographicOperations.FixedTimeEquals(hmac.ComputeHash(Encoding.ASCII.GetBytes(name)), expected);
            }
            catch (FormatException) { return false; }
        }
        bool matched = false;
        foreach (var pat in field.Split(','))
        {
            if (pat.StartsWith('!'))
            {
                if (Platforms.Glob.IsMatch(name, pat[1..])) return false;
            }
            else if (Platforms.Glob.IsMatch(name, pat)) matched = true;
        }
        return matched;
    }
}
