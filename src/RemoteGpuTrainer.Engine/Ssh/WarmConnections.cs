using System.Collections.Concurrent;

namespace RemoteGpuTrainer.Engine.Ssh;

/// <summary>
/// SSH connections kept open between the cmdlets of one PowerShell session, as OpenSSH's ControlPersist
/// keeps its master: `Get-GpuJob box; Receive-Checkpoint box; Get-GpuLog box` handshake once. A connection
/// is lent to one cmdlet at a time (any runspace of the process may take it), comes back when that cmdlet
/// ends, and is closed after <see cref="IdleExpiry"/> unused. It is found again only for the same endpoint
/// reached the same way: address, port, user, jump hosts, keys offered, the host key rule (a rental's key
/// pinned after it moved is another rule), and ~/.ssh/config and the known_hosts files as they are now (an
/// edit, such as a key removed or trusted, makes the next cmdlet connect and check afresh). A connection that died, or that sat
/// idle past <see cref="CheckAfter"/> and does not answer a command, is closed instead of lent.
/// </summary>
public static class WarmConnections
{
    static readonly ConcurrentDictionary<string, ConcurrentBag<(SshConnection Connection, DateTime IdleSince)>> Idle = new(StringComparer.Ordinal);
    static readonly Timer Sweeper = new(_ => Close(c => DateTime.UtcNow - c.IdleSince > IdleExpiry), null, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(30));

    /// <summary>How long an unused connection stays open: RGT_SSH_PERSIST seconds (default 600; 0 turns the reuse off).</summary>
    public static TimeSpan IdleExpiry => TimeSpan.FromSeconds(
        int.TryParse(Environment.GetEnvironmentVariable("RGT_SSH_PERSIST"), out var s) && s >= 0 ? s : 600);

    /// <summary>A connection idle longer than this must answer a command before it is lent again.</summary>
    public static readonly TimeSpan CheckAfter = TimeSpan.FromSeconds(30);

    /// <summary>What makes two connections interchangeable: the endpoint, how it is reached, and how its key is checked.</summary>
    public static string KeyOf(SshTarget target, IReadOnlyList<byte[]>? pinned, bool trustOnFirstUse) =>
        string.Join("|", new[] { target.Name, target.User, target.HostName, target.Port.ToString(System.Globalization.CultureInfo.InvariantCulture) }
            .Concat(target.Jumps.Select(j => $"{j.User}@{j.HostName}:{j.Port}"))
            .Concat(target.IdentityFiles).Append(target.Agent?.Address ?? "-").Append(target.IdentitiesOnly ? "only" : "all").Append(trustOnFirstUse ? "tofu" : "known")
            .Append(Stamp(SshConfigFile.DefaultPath))
            .Concat((pinned ?? Array.Empty<byte[]>()).Select(Convert.ToBase64String))
            .Concat(target.KnownHostsFiles.Concat(target.Jumps.SelectMany(j => j.KnownHostsFiles)).Distinct().Select(Stamp)));

    static string Stamp(string file)
    {
        var f = new FileInfo(file);
        return f.Exists ? $"{file}:{f.Length}:{f.LastWriteTimeUtc.Ticks}" : file + ":none";
    }

    /// <summary>An open connection for that key, alive; null when there is none.</summary>
    public static SshConnection? Take(string key)
    {
        if (IdleExpiry <= TimeSpan.Zero || !Idle.TryGetValue(key, out var bag)) return null;
        while (bag.TryTake(out var idle))
        {
            if (idle.Connection.IsAlive(DateTime.UtcNow - idle.IdleSince > CheckAfter)) return idle.Connection;
            idle.Connection.Dispose();
        }
        return null;
    }

    /// <summary>Keeps a connection for the next cmdlet, or closes it when reuse is off or it died.</summary>
    public static void Give(string key, SshConnection connection)
    {
        if (IdleExpiry <= TimeSpan.Zero || !connection.IsAlive(false)) { connection.Dispose(); return; }
        Idle.GetOrAdd(key, _ => new()).Add((connection, DateTime.UtcNow));
        GC.KeepAlive(Sweeper);
    }

    /// <summary>Closes the kept connections of the hosts whose name <paramref name="named"/> accepts (all of them when null); returns how many.</summary>
    public static int Drop(Func<string, bool>? named = null) =>
        Close(c => named is null || named(c.Connection.Target.Name));

    /// <summary>How many connections are kept open now.</summary>
    public static int Count => Idle.Values.Sum(b => b.Count);

    static int Close(Func<(SshConnection Connection, DateTime IdleSince), bool> which)
    {
        var closed = 0;
        foreach (var bag in Idle.Values)
        {
            var keep = new List<(SshConnection, DateTime)>();
            while (bag.TryTake(out var idle))
            {
                if (which(idle)) { idle.Connection.Dispose(); closed++; }
                else keep.Add(idle);
            }
            foreach (var k in keep) bag.Add(k);
        }
        return closed;
    }
}
