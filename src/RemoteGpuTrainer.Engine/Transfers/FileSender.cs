using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Ssh;

namespace RemoteGpuTrainer.Engine.Transfers;

/// <summary>One piece of a send to one host: its small files as one batch, or one large file.</summary>
public sealed record SendWork(GpuHost Host, bool Batch, IReadOnlyList<BatchFile> Files);

/// <summary>
/// Send-GpuFile's transfer, for the cmdlet and for a recovery that pushes code and checkpoints to a new
/// box: small files travel in one tar stream per host, large ones one by one (resumable), each verified
/// by the box's SHA-256 before it takes its name. The pieces of a send may run in parallel; the short
/// steps of one host share its connection through one gate.
/// </summary>
public static class FileSender
{
    public static List<SendWork> Work(IEnumerable<GpuHost> hosts, UploadPlan plan) =>
        hosts.Where(_ => plan.Small.Count > 0).Select(h => new SendWork(h, true, plan.Small))
            .Concat(hosts.SelectMany(h => plan.Large.Select(f => new SendWork(h, false, new[] { f }))))
            .ToList();

    public static async Task<List<(BatchFile File, GpuTransfer? Transfer, Exception? Error)>> SendAsync(HostConnector connector, SendWork w, string root,
        SemaphoreSlim gate, TransferOptions options, TransferProgress progress, CancellationToken ct)
    {
        var control = (await connector.OpenAsync(w.Host, ct, resolvePaths: false, overSsh: true).ConfigureAwait(false)).Connection;
        if (w.Batch) return await BatchUploader.UploadAsync(connector, w.Host, control, w.Files.ToList(), root, options, progress, ct).ConfigureAwait(false);
        var f = w.Files[0];
        var (dir, name) = UploadPlan.Target(root, f.Relative);
        var t = await Uploader.UploadAsync(w.Host, connector.Target(w.Host), control, gate, connector.Pool, f.Full, f.Content, dir, name, options, progress, ct).ConfigureAwait(false);
        return new() { (f, t, null) };
    }

    /// <summary>Everything of <paramref name="plan"/> to one host, piece after piece; the first file that did not arrive is thrown.</summary>
    public static async Task<List<GpuTransfer>> SendAllAsync(HostConnector connector, GpuHost host, UploadPlan plan, string root, TransferOptions options, CancellationToken ct)
    {
        using var gate = new SemaphoreSlim(1);
        var progress = new TransferProgress();
        var sent = new List<GpuTransfer>();
        foreach (var w in Work(new[] { host }, plan))
            foreach (var (f, t, error) in await SendAsync(connector, w, root, gate, options, progress, ct).ConfigureAwait(false))
            {
                if (error is not null)
                    throw error as RgtException ?? new RgtException("TransferFailed", FailureKind.OperationFailed, $"{host.Name}: {f.Relative} was not sent: {error.Message}", error);
                sent.Add(t!);
            }
        return sent;
    }
}
