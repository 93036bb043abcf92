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
    public static readonly string[] DefaultIdentityFiles = { "id_ed25519", "id_ecdsa", "id_rsa" };

    /// <summary>
    /// Inventory values first, then ~/.ssh/config for the host name (an alias resolves like
    /// `ssh alias`), then OpenSSH's defaults; keepalive every 60 s, dropped after 120 missed answers.
    /// </summary>
    public static SshTarget Resolve(GpuHost host, TimeSpan? connectTimeout = null, string? sshConfigPath = null)
    {
        var cfg = SshConfigFile.Resolve(host.HostName, sshConfigPath);
        if (cfg.ProxyJump is not null && !cfg.ProxyJump.Equals("none", StringComparison.OrdinalIgnoreCase))
            throw new RgtException("ProxyJumpUnsupported", FailureKind.InvalidArgument,
                $"~/.ssh/config sets ProxyJump for '{host.HostName}'; RemoteGpuTrainer does not hop through a jump host yet. Register a directly reachable host:port instead.");
        var identities = new List<string>();
        if (!string.IsNullOrEmpty(host.IdentityFile)) identities.Add(ConfigPaths.ExpandHome(host.IdentityFile));
        identities.AddRange(cfg.IdentityFiles);
        if (identities.Count == 0)
            identities.AddRange(DefaultIdentityFiles.Select(f => Path.Combine(ConfigPaths.SshDirectory, f)).Where(File.Exists));
        return new SshTarget(
            host.Name,
            cfg.HostName ?? host.HostName,
            host.Port ?? cfg.Port ?? 22,
            host.User ?? cfg.User ?? Environment.UserName,
            identities,
            connectTimeout ?? (cfg.ConnectTimeout is > 0 ? TimeSpan.FromSeconds(cfg.ConnectTimeout.Value) : TimeSpan.FromSeconds(15)),
            TimeSpan.FromSeconds(cfg.ServerAliveInterval is > 0 ? cfg.ServerAliveInterval.Value : 60),
            cfg.ServerAliveCountMax is > 0 ? cfg.ServerAliveCountMax.Value : 120,
            cfg.UserKnownHostsFiles.Count > 0 ? cfg.UserKnownHostsFiles : new[] { KnownHosts.DefaultFile });
    }

    public string Display => $"{User}@{HostName}:{Port}";
}
