using System.Collections.Concurrent;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Transfers;

namespace RemoteGpuTrainer.Engine.Ssh;

/// <summary>Connection settings one cmdlet invocation uses for every host. Log receives what -Verbose shows (never secrets).</summary>
/// <param name="PinnedKeys">When set, the server must present one of these keys, whatever known_hosts holds for its address (a rental's own key after it moved).</param>
/// <param name="Passphrase">Asked for the passphrase of an encrypted identity file no agent holds (an interactive session's prompt); null: such a file is not used.</param>
/// <param name="Reuse">Whether a connection the session kept open may be used, and this invocation's kept for the next cmdlet (-NoReuse: neither).</param>
public sealed record ConnectOptions(bool TrustOnFirstUse = false, TimeSpan? ConnectTimeout = null, Action<string>? Log = null, IReadOnlyList<byte[]>? PinnedKeys = null,
    Func<string, string?>? Passphrase = null, bool Reuse = true);

/// <summary>What one step on one host works with: a shell, the host with its remote paths resolved
/// (as given when the caller asked for none), and the SSH connection when the host is reached over SSH.</summary>
public sealed record HostSession(IHostShell Shell, GpuHost Host, SshConnection? Ssh)
{
    /// <summary>The SSH connection, for a caller that opened the session with overSsh.</summary>
    public SshConnection Connection => Ssh ?? throw new InvalidOperationException($"{Host.Name}: the session was not opened over SSH");
}

/// <summary>
/// The one way the module reaches a host: <see cref="OpenAsync"/>. It holds one connection per host for
/// the lifetime of one cmdlet invocation (a pipeline step), with that invocation's options (host key rules,
/// pinned keys, timeout, -Verbose log): one the session kept open from an earlier cmdlet to the same
/// endpoint reached the same way (<see cref="WarmConnections"/>), else a new one; at the end each goes back
/// to the session, alive, for the next cmdlet. Transfers that move a
/// file over several connections at once take them from <see cref="Pool"/>, opened with the same options.
/// </summary>
public sealed class HostConnector : IDisposable
{
    readonly ConcurrentDictionary<string, Lazy<Task<SshConnection>>> _open = new(StringComparer.OrdinalIgnoreCase);
    readonly ConcurrentDictionary<string, Lazy<Task<GpuHost>>> _resolved = new(StringComparer.OrdinalIgnoreCase);
    readonly ConnectOptions _options;
    readonly Lazy<ConnectionPool> _pool;

    public HostConnector(ConnectOptions? options = null)
    {
        _options = options ?? new ConnectOptions();
        _pool = new Lazy<ConnectionPool>(() => new ConnectionPool(_options));
    }

    /// <summary>Extra connections for parallel transfers, opened with this connector's options and closed with it.</summary>
    public ConnectionPool Pool => _pool.Value;

    /// <summary>Where the host is reached: ~/.ssh/config applied, with this invocation's connect timeout.</summary>
    public SshTarget Target(GpuHost host) => SshTarget.Resolve(host, _options.ConnectTimeout).WithPassphrase(_options.Passphrase);

    /// <summary>
    /// Reaches the host: the local machine for platform "local" (unless <paramref name="overSsh"/>), else
    /// its one SSH connection of this invocation; with <paramref name="resolvePaths"/>, the host comes back
    /// with DataDir/DurableDir/CredFile resolved on the box (once per host per invocation) for scripts and
    /// SFTP alike. Each remote step is logged when -Verbose is on.
    /// </summary>
    public async Task<HostSession> OpenAsync(GpuHost host, CancellationToken cancellationToken, bool resolvePaths = true, bool overSsh = false)
    {
        var ssh = overSsh || !IsLocal(host) ? await ConnectAsync(host, cancellationToken).ConfigureAwait(false) : null;
        IHostShell shell = ssh is null ? new LocalShell() : ssh;
        if (_options.Log is not null) shell = new LoggedShell(shell, host.Name, _options.Log);
        var resolved = resolvePaths ? await ResolvePathsAsync(host, shell, cancellationToken).ConfigureAwait(false) : host;
        return new HostSession(shell, resolved, ssh);
    }

    /// <summary>A connection of the caller's own, outside the one-per-host cache (a batch that lost its link); the caller disposes it.</summary>
    public Task<SshConnection> OpenExtraAsync(GpuHost host, CancellationToken cancellationToken) => OpenSshAsync(host, cancellationToken);

    static bool IsLocal(GpuHost host) => string.Equals(host.Platform, "local", StringComparison.OrdinalIgnoreCase);

    Task<SshConnection> ConnectAsync(GpuHost host, CancellationToken cancellationToken)
    {
        var lazy = _open.GetOrAdd(host.Name, _ => new Lazy<Task<SshConnection>>(() => OpenSshAsync(host, cancellationToken)));
        var task = lazy.Value;
        // A failed connect is not cached: the next operation on that host tries again.
        if (task.IsFaulted || task.IsCanceled) _open.TryRemove(host.Name, out _);
        return task;
    }

    async Task<SshConnection> OpenSshAsync(GpuHost host, CancellationToken cancellationToken)
    {
        var target = Target(host);
        if (_options.Reuse && WarmConnections.Take(Key(target)) is { } warm)
        {
            _options.Log?.Invoke($"{host.Name}: reusing this session's open connection to {target.Display} (host key {warm.HostKeyFingerprint}, checked when it was opened)");
            _kept[warm] = target;
            return warm;
        }

        _options.Log?.Invoke($"{host.Name}: connecting to {target.Display}{string.Concat(target.Jumps.Select(j => " via " + j.Display))} with key {string.Join(", ", target.IdentityFiles)}{(target.Agent is null ? "" : " and the agent's")}; known hosts from {string.Join(", ", target.KnownHostsFiles)}; timeout {target.ConnectTimeout.TotalSeconds:0} s");
        var connection = await SshConnection.ConnectAsync(target, _options.TrustOnFirstUse, cancellationToken, _options.PinnedKeys).ConfigureAwait(false);
        _options.Log?.Invoke($"{host.Name}: connected in {connection.ConnectLatency.TotalMilliseconds:0} ms, host key {connection.HostKeyFingerprint}");
        if (_options.Reuse) _kept[connection] = target;
        return connection;
    }

    /// <summary>The host with DataDir, DurableDir and CredFile resolved on the box; no round trip when they are absolute already.</summary>
    Task<GpuHost> ResolvePathsAsync(GpuHost host, IHostShell shell, CancellationToken cancellationToken)
    {
        if (!RemotePaths.NeedsBox(host.DataDir) && !RemotePaths.NeedsBox(host.DurableDir) && !RemotePaths.NeedsBox(host.CredFile))
            return Task.FromResult(host);
        var lazy = _resolved.GetOrAdd(host.Name, _ => new Lazy<Task<GpuHost>>(() => RemotePaths.ResolveHostAsync(shell, host, cancellationToken)));
        var task = lazy.Value;
        if (task.IsFaulted || task.IsCanceled) _resolved.TryRemove(host.Name, out _);
        return task;
    }

    /// <summary>One more remote path (a -RemotePath, a -Destination) resolved on the box.</summary>
    public async Task<string> ResolvePathAsync(GpuHost host, string path, CancellationToken cancellationToken)
    {
        if (!RemotePaths.NeedsBox(path)) return path;
        var shell = (await OpenAsync(host, cancellationToken, resolvePaths: false).ConfigureAwait(false)).Shell;
        return (await RemotePaths.ResolveAsync(shell, host.Name, new[] { path }, cancellationToken).ConfigureAwait(false))[0]!;
    }

    /// <summary>Each shared connection's target, to hand it back under its key as things are when the invocation ends (known_hosts may have gained its key).</summary>
    readonly ConcurrentDictionary<SshConnection, SshTarget> _kept = new();

    string Key(SshTarget target) => WarmConnections.KeyOf(target, _options.PinnedKeys, _options.TrustOnFirstUse);

    /// <summary>The invocation's shared connections go back to the session (<see cref="WarmConnections"/>) for the next cmdlet; the rest are closed.</summary>
    public void Dispose()
    {
        var closing = _open.Values.Where(l => l.IsValueCreated).Select(l => l.Value)
            .Where(t => t.IsCompletedSuccessfully).Select(t => Task.Run(() =>
            {
                if (_kept.TryGetValue(t.Result, out var target)) WarmConnections.Give(Key(target), t.Result);
                else t.Result.Dispose();
            })).ToArray();
        Task.WaitAll(closing, TimeSpan.FromSeconds(3));
        _open.Clear();
        if (_pool.IsValueCreated) _pool.Value.Dispose();
    }
}

/// <summary>Reports each remote step's name (the box script's) and duration, never its text: that may hold user values.</summary>
sealed class LoggedShell : IHostShell
{
    readonly IHostShell _inner;
    readonly string _host;
    readonly Action<string> _log;

    public LoggedShell(IHostShell inner, string host, Action<string> log) { _inner = inner; _host = host; _log = log; }

    public async Task<CommandOutput> RunAsync(string command, TimeSpan timeout, CancellationToken cancellationToken, string? standardInput = null)
    {
        var at = command.LastIndexOf(" rgt-", StringComparison.Ordinal);
        var step = at >= 0 && command.IndexOf(' ', at + 1) < 0 ? command[(at + 5)..] : "a command";
        var output = await _inner.RunAsync(command, timeout, cancellationToken, standardInput).ConfigureAwait(false);
        _log($"{_host}: {step} took {output.Duration.TotalSeconds:0.00} s (exit {output.ExitCode?.ToString() ?? output.Signal ?? "?"})");
        return output;
    }

    // The connector owns and closes the connection.
    public void Dispose() { }
}
