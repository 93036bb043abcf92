using System.Collections.Concurrent;
using RemoteGpuTrainer.Engine.Ssh;
using Renci.SshNet;

namespace RemoteGpuTrainer.Engine.Transfers;

/// <summary>
/// Reuses SFTP connections between the files of one transfer: a handshake costs about as much CPU
/// as tens of megabytes of data on a small box. A connection that failed or stalled is never reused.
/// </summary>
public sealed class SftpPool : IDisposable
{
    readonly ConcurrentDictionary<string, ConcurrentBag<SftpClient>> _idle = new(StringComparer.OrdinalIgnoreCase);
    readonly ConcurrentDictionary<string, Task<SftpClient?>> _warming = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Starts opening one connection to the host in the background (while the caller lists files), so
    /// the first file does not wait for a handshake. A failure here is dropped: the first rent opens
    /// its own connection and reports what went wrong.
    /// </summary>
    public void Warm(SshTarget target, CancellationToken ct) =>
        _warming.GetOrAdd(target.Name, _ => Task.Run(async () =>
        {
            try { return await OpenAsync(target, ct).ConfigureAwait(false); }
            catch (Exception) { return (SftpClient?)null; }
        }, CancellationToken.None));

    readonly ConcurrentDictionary<string, TimeSpan> _roundTrips = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// The SFTP round trip to the host, timed with one stat of <paramref name="path"/> the first time a
    /// large file asks and reused for every later file of the transfer; lazy, so small files cost nothing.
    /// </summary>
    internal Lazy<TimeSpan> RoundTrip(SshTarget target, SftpClient sftp, string path) => new(() =>
        _roundTrips.GetOrAdd(target.Name, _ =>
        {
            var sw = System.Diagnostics.Stopwatch.StartNew();
            sftp.GetAttributes(path);
            return sw.Elapsed;
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

    static async Task<SftpClient> OpenAsync(SshTarget target, CancellationToken ct)
    {
        var (client, _) = await SshConnection.OpenAsync(target, false, info => new SftpClient(info), ct).ConfigureAwait(false);
        client.BufferSize = 64 * 1024;
        return client;
    }

    internal void Return(SshTarget target, SftpClient client) => _idle.GetOrAdd(target.Name, _ => new ConcurrentBag<SftpClient>()).Add(client);

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
    }
}
