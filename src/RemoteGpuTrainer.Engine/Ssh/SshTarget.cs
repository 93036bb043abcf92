using RemoteGpuTrainer.Engine.Model;

namespace RemoteGpuTrainer.Engine.Ssh;

/// <summary>Everything needed to open one SSH connection, resolved as `ssh alias` would.</summary>
public sealed record SshTarget(
    string Name,
    string HostName,
    int Port,
    string User,
    IReadOnlyList<string> IdentityFiles,
    TimeSpan ConnectTimeout,
    TimeSpan KeepAliveInterval,
    int KeepAliveCountMax,
    IReadOnlyList<string> KnownHostsFiles)
{
    /// <summary>The hosts to hop through, first to last (ProxyJump), each a target of its own; empty: a direct connection.</summary>
    public IReadOnlyList<SshTarget> Jumps { get; init; } = Array.Empty<SshTarget>();

    /// <summary>The ssh-agent whose keys are offered first (SSH_AUTH_SOCK or IdentityAgent); null: key files only.</summary>
    public SshAgent? Agent { get; init; }

    /// <summary>IdentitiesOnly: of the agent's keys, only those of the identity files are offered.</summary>
    public bool IdentitiesOnly { get; init; }

    /// <summary>Asked for the passphrase of an encrypted identity file (null: no one to ask; the file is not used).</summary>
    public Func<string, string?>? Passphrase { get; init; }

    public static readonly string[] DefaultIdentityFiles = { "id_ed25519", "id_ecdsa", "id_rsa" };

    /// <summary>
    /// Inventory values first, then ~/.ssh/config for the host name (an alias resolves like
    /// `ssh alias`), then OpenSSH's defaults; keepalive every 60 s, dropped after 120 missed answers.
    /// </summary>
    public static SshTarget Resolve(GpuHost host, TimeSpan? connectTimeout = null, string? sshConfigPath = null)
    {
        var cfg = SshConfigFile.Resolve(host.HostName, sshConfigPath);
        var jumps = host.ProxyJump ?? cfg.ProxyJump ?? (cfg.ProxyCommand is { } pc && !pc.Equals("none", StringComparison.OrdinalIgnoreCase) ? JumpHost.FromProxyCommand(pc, host.HostName) : null);
        var target = FromConfig(host.Name, host.HostName, cfg, host.Port, host.User, host.IdentityFile, connectTimeout);
        if (jumps is null) return target;
        var hops = JumpHost.ParseList(jumps).Select(j =>
            FromConfig($"jump host {j.Host}{(j.Port is { } p ? ":" + p : "")} (for {host.Name})", j.Host, SshConfigFile.Resolve(j.Host, sshConfigPath), j.Port, j.User, null, connectTimeout)).ToList();
        return target with { Jumps = hops };
    }

    /// <summary>One endpoint as `ssh alias` would reach it: the values given first, then the alias's ~/.ssh/config entry, then OpenSSH's defaults.</summary>
    static SshTarget FromConfig(string name, string alias, SshConfigEntry cfg, int? port, string? user, string? identityFile, TimeSpan? connectTimeout)
    {
        var identities = new List<string>();
        if (!string.IsNullOrEmpty(identityFile)) identities.Add(ConfigPaths.ExpandHome(identityFile));
        identities.AddRange(cfg.IdentityFiles);
        if (identities.Count == 0)
            identities.AddRange(DefaultIdentityFiles.Select(f => Path.Combine(ConfigPaths.SshDirectory, f)).Where(File.Exists));
        return new SshTarget(
            name,
            cfg.HostName ?? alias,
            port ?? cfg.Port ?? 22,
            user ?? cfg.User ?? Environment.UserName,
            identities,
            connectTimeout ?? (cfg.ConnectTimeout is > 0 ? TimeSpan.FromSeconds(cfg.ConnectTimeout.Value) : TimeSpan.FromSeconds(15)),
            TimeSpan.FromSeconds(cfg.ServerAliveInterval is > 0 ? cfg.ServerAliveInterval.Value : 60),
            cfg.ServerAliveCountMax is > 0 ? cfg.ServerAliveCountMax.Value : 120,
            cfg.UserKnownHostsFiles.Count > 0 ? cfg.UserKnownHostsFiles : new[] { KnownHosts.DefaultFile })
        {
            Agent = SshAgent.Find(cfg.IdentityAgent, Environment.GetEnvironmentVariable, OperatingSystem.IsWindows()),
            IdentitiesOnly = cfg.IdentitiesOnly ?? false,
        };
    }

    /// <summary>The same target, with <paramref name="ask"/> asked for passphrases, its hops too.</summary>
    public SshTarget WithPassphrase(Func<string, string?>? ask) =>
        this with { Passphrase = ask, Jumps = Jumps.Select(j => j with { Passphrase = ask }).ToList() };

    public string Display => $"{User}@{HostName}:{Port}";
}
