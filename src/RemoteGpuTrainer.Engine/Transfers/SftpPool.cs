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

    internal async Task<SftpClient> RentAsync(SshTarget target, CancellationToken ct)
    {
        if (_idle.TryGetValue(target.Name, out var bag))
            while (bag.TryTake(out var c))
                if (c.IsConnected) return c;
                else c.Dispose();
        var (client, _) = await SshConnection.OpenAsync(target, false, info => new SftpClient(info), ct).ConfigureAwait(false);
        client.BufferSize = 64 * 1024;
        return client;
    }

    internal void Return(SshTarget target, SftpClient client) => _idle.GetOrAdd(target.Name, _ => new ConcurrentBag<SftpClient>()).Add(client);

    public void Dispose()
    {
        foreach (var bag in _idle.Values)
            while (bag.TryTake(out var c))
            {
                var client = c;
                Task.Run(() => { try { client.Dispose(); } catch (Exception) { } }).Wait(TimeSpan.FromSeconds(2));
            }
    }
}
