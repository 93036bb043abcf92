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

    public void Dispose()
    {
        var closing = _open.Values.Where(l => l.IsValueCreated).Select(l => l.Value)
            .Where(t => t.IsCompletedSuccessfully).Select(t => Task.Run(() => t.Result.Dispose())).ToArray();
        Task.WaitAll(closing, TimeSpan.FromSeconds(3));
        _open.Clear();
    }
}
