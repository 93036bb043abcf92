using System.Collections.Concurrent;
using RemoteGpuTrainer.Engine.Model;

namespace RemoteGpuTrainer.Engine.Ssh;

/// <summary>Connection settings one cmdlet invocation uses for every host.</summary>
public sealed record ConnectOptions(bool TrustOnFirstUse = false, TimeSpan? ConnectTimeout = null);

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
        var lazy = _open.GetOrAdd(host.Name, _ => new Lazy<Task<SshConnection>>(() =>
            SshConnection.ConnectAsync(SshTarget.Resolve(host, _options.ConnectTimeout), _options.TrustOnFirstUse, cancellationToken)));
        var task = lazy.Value;
        // A failed connect is not cached: the next operation on that host tries again.
        if (task.IsFaulted || task.IsCanceled) _open.TryRemove(host.Name, out _);
        return task;
    }

    /// <summary>A shell on the host: the local machine for platform "local", else the SSH connection.</summary>
    public async Task<IHostShell> OpenShellAsync(GpuHost host, CancellationToken cancellationToken) =>
        string.Equals(host.Platform, "local", StringComparison.OrdinalIgnoreCase)
            ? new LocalShell()
            : await ConnectAsync(host, cancellationToken).ConfigureAwait(false);

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
