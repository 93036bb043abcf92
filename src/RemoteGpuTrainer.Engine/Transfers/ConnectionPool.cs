using System.Collections.Concurrent;
using RemoteGpuTrainer.Engine.Ssh;
using Renci.SshNet;

namespace RemoteGpuTrainer.Engine.Transfers;

/// <summary>
/// Reuses connections between the files of one transfer: SFTP clients for range reads, and SSH
/// connections whose exec channels stream whole ranges (<see cref="Downloader"/>). A handshake costs
/// about as much CPU as tens of megabytes of data on a small box. A connection that failed or
/// stalled is never reused.
/// </summary>
public sealed class ConnectionPool : IDisposable
{
    readonly ConnectOptions _options;

    /// <summary>Opens its connections with the host key rules (pins included) of the connector that owns it; never trusts a new key.</summary>
    public ConnectionPool(ConnectOptions? options = null) => _options = options ?? new ConnectOptions();

    readonly ConcurrentDictionary<string, ConcurrentBag<SftpClient>> _idle = new(StringComparer.OrdinalIgnoreCase);
    readonly ConcurrentDictionary<string, Task<SftpClient?>> _warming = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Starts opening one connection to the host in the background (while the caller lists files), so
    /// the first file does not wait for a handshake; it also times the round trip, and on a near link
    /// (where files are streamed over exec channels) opens the first shell too. A failure here is
    /// dropped: the first rent opens its own connection and reports what went wrong.
    /// </summary>
    public void Warm(SshTarget target, CancellationToken ct) =>
        _warming.GetOrAdd(target.Name, _ => Task.Run(async () =>
        {
            try
            {
                var sftp = await OpenAsync(target, ct).ConfigureAwait(false);
                if (RoundTrip(target, sftp, ".").Value <= Downloader.StreamBelowRoundTrip)
                {
                    try { Return(target, await SshConnection.ConnectAsync(target, false, ct, _options.PinnedKeys).ConfigureAwait(false)); }
                    catch (Exception) { }
                }
                return sftp;
            }
            catch (Exception) { return (SftpClient?)null; }
        }, CancellationToken.None));

    readonly ConcurrentDictionary<string, TimeSpan> _roundTrips = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// The SFTP round trip to the host, timed with stats of <paramref name="path"/> the first time a
    /// large file asks and reused for every later file of the transfer; lazy, so small files cost nothing.
    /// </summary>
    internal Lazy<TimeSpan> RoundTrip(SshTarget target, SftpClient sftp, string path) => new(() =>
        _roundTrips.GetOrAdd(target.Name, _ =>
        {
            // The fastest of two: the first request after a handshake can be slow for reasons of its own.
            var best = TimeSpan.MaxValue;
            for (int i = 0; i < 2; i++)
            {
                var sw = System.Diagnostics.Stopwatch.StartNew();
                sftp.GetAttributes(path);
                if (sw.Elapsed < best) best = sw.Elapsed;
            }
            return best;
        }));

    internal async Task<SftpClient> RentAsync(SshTarget target, CancellationToken ct)
    {
        if (_warming.TryRemove(target.Name, out var warm) && await warm.ConfigureAwait(false) is { } early)
        {
            if (early.IsConnected) return early;
            early.Dispose();
        }
        if (_idle.TryGetValue(target.Name, out var bag))
            while (bag.TryTake(out var c))
                if (c.IsConnected) return c;
                else c.Dispose();
        return await OpenAsync(target, ct).ConfigureAwait(false);
    }

    async Task<SftpClient> OpenAsync(SshTarget target, CancellationToken ct)
    {
        var (client, _, hops) = await SshConnection.OpenAsync(target, false, info => new SftpClient(info), ct, _options.PinnedKeys).ConfigureAwait(false);
        if (hops is not null) _hops.Add(hops);
        client.BufferSize = 64 * 1024;
        return client;
    }

    // The jump-host chains under SFTP clients of targets behind a jump: closed with the pool, after the clients.
    readonly ConcurrentBag<IDisposable> _hops = new();

    internal void Return(SshTarget target, SftpClient client) => _idle.GetOrAdd(target.Name, _ => new ConcurrentBag<SftpClient>()).Add(client);

    readonly ConcurrentDictionary<string, ConcurrentBag<SshConnection>> _idleShells = new(StringComparer.OrdinalIgnoreCase);

    internal async Task<SshConnection> RentShellAsync(SshTarget target, CancellationToken ct)
    {
        if (_idleShells.TryGetValue(target.Name, out var bag) && bag.TryTake(out var c)) return c;
        return await SshConnection.ConnectAsync(target, false, ct, _options.PinnedKeys).ConfigureAwait(false);
    }

    internal void Return(SshTarget target, SshConnection shell) => _idleShells.GetOrAdd(target.Name, _ => new ConcurrentBag<SshConnection>()).Add(shell);

    public void Dispose()
    {
        foreach (var warm in _warming.Values)
        {
            // A warm-up never rented (nothing to pull): closed once its handshake ends, without waiting here.
            _ = warm.ContinueWith(t => { try { t.Result?.Dispose(); } catch (Exception) { } }, TaskScheduler.Default);
        }
        foreach (var bag in _idle.Values)
            while (bag.TryTake(out var c))
            {
                var client = c;
                Task.Run(() => { try { client.Dispose(); } catch (Exception) { } }).Wait(TimeSpan.FromSeconds(2));
            }
        foreach (var bag in _idleShells.Values)
            while (bag.TryTake(out var shell)) shell.Dispose();
        while (_hops.TryTake(out var hops)) hops.Dispose();
    }
}
