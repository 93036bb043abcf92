using System.Collections.Concurrent;
using RemoteGpuTrainer.Engine.Model;

namespace RemoteGpuTrainer.Engine.Ssh;

/// <summary>Connection settings one cmdlet invocation uses for every host. Log receives what -Verbose shows (never secrets).</summary>
/// <param name="PinnedKeys">When set, the server must present one of these keys, whatever known_hosts holds for its address (a rental's own key after it moved).</param>
public sealed record ConnectOptions(bool TrustOnFirstUse = false, TimeSpan? ConnectTimeout = null, Action<string>? Log = null, IReadOnlyList<byte[]>? PinnedKeys = null);

/// <summary>
/// Opens at most one connection per host for the lifetime of one cmdlet invocation (a pipeline
/// step) and closes them all at the end.
/// </summary>
public sealed class HostConnector : IDisposable
{
    readonly ConcurrentDictionary<string, Lazy<Task<SshConnection>>> _open = new(StringComparer.OrdinalIgnoreCase);
    readonly ConcurrentDictionary<string, Lazy<Task<GpuHost>>> _resolved = new(StringComparer.OrdinalIgnoreCase);
    readonly ConnectOptions _options;

    public HostConnector(ConnectOptions? options = null) => _options = options ?? new ConnectOptions();

    public Task<SshConnection> ConnectAsync(GpuHost host, CancellationToken cancellationToken)
    {
        var lazy = _open.GetOrAdd(host.Name, _ => new Lazy<Task<SshConnection>>(() => OpenAsync(host, cancellationToken)));
        var task = lazy.Value;
        // A failed connect is not cached: the next operation on that host tries again.
        if (task.IsFaulted || task.IsCanceled) _open.TryRemove(host.Name, out _);
        return task;
    }

    async Task<SshConnection> OpenAsync(GpuHost host, CancellationToken cancellationToken)
    {
        var target = SshTarget.Resolve(host, _options.ConnectTimeout);
        _options.Log?.Invoke($"{host.Name}: connecting to {target.Display} with key {string.Join(", ", target.IdentityFiles)}; known hosts from {string.Join(", ", target.KnownHostsFiles)}; timeout {target.ConnectTimeout.TotalSeconds:0} s");
        var connection = await SshConnection.ConnectAsync(target, _options.TrustOnFirstUse, cancellationToken, _options.PinnedKeys).ConfigureAwait(false);
        _options.Log?.Invoke($"{host.Name}: connected in {connection.ConnectLatency.TotalMilliseconds:0} ms, host key {connection.HostKeyFingerprint}");
        return connection;
    }

    /// <summary>A shell on the host: the local machine for platform "local", else the SSH connection; each step is logged when asked.</summary>
    public async Task<IHostShell> OpenShellAsync(GpuHost host, CancellationToken cancellationToken)
    {
        IHostShell shell = string.Equals(host.Platform, "local", StringComparison.OrdinalIgnoreCase)
            ? new LocalShell()
            : await ConnectAsync(host, cancellationToken).ConfigureAwait(false);
        return _options.Log is null ? shell : new LoggedShell(shell, host.Name, _options.Log);
    }

    /// <summary>
    /// A shell on the host and the host with its remote paths resolved on the box (once per host per
    /// invocation): use the returned host's DataDir/DurableDir for scripts and SFTP alike.
    /// </summary>
    public async Task<(IHostShell Shell, GpuHost Host)> OpenResolvedAsync(GpuHost host, CancellationToken cancellationToken)
    {
        var shell = await OpenShellAsync(host, cancellationToken).ConfigureAwait(false);
        return (shell, await ResolvePathsAsync(host, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>The host with DataDir, DurableDir and CredFile resolved on the box; no round trip when they are absolute already.</summary>
    public Task<GpuHost> ResolvePathsAsync(GpuHost host, CancellationToken cancellationToken)
    {
        if (!RemotePaths.NeedsBox(host.DataDir) && !RemotePaths.NeedsBox(host.DurableDir) && !RemotePaths.NeedsBox(host.CredFile))
            return Task.FromResult(host);
        var lazy = _resolved.GetOrAdd(host.Name, _ => new Lazy<Task<GpuHost>>(async () =>
        {
            var shell = await OpenShellAsync(host, cancellationToken).ConfigureAwait(false);
            return await RemotePaths.ResolveHostAsync(shell, host, cancellationToken).ConfigureAwait(false);
        }));
        var task = lazy.Value;
        if (task.IsFaulted || task.IsCanceled) _resolved.TryRemove(host.Name, out _);
        return task;
    }

    /// <summary>One more remote path (a -RemotePath, a -Destination) resolved on the box.</summary>
    public async Task<string> ResolvePathAsync(GpuHost host, string path, CancellationToken cancellationToken)
    {
        if (!RemotePaths.NeedsBox(path)) return path;
        var shell = await OpenShellAsync(host, cancellationToken).ConfigureAwait(false);
        return (await RemotePaths.ResolveAsync(shell, host.Name, new[] { path }, cancellationToken).ConfigureAwait(false))[0]!;
    }

    public void Dispose()
    {
        var closing = _open.Values.Where(l => l.IsValueCreated).Select(l => l.Value)
            .Where(t => t.IsCompletedSuccessfully).Select(t => Task.Run(() => t.Result.Dispose())).ToArray();
        Task.WaitAll(closing, TimeSpan.FromSeconds(3));
        _open.Clear();
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
