using System.Text.Json;
using System.Text.RegularExpressions;

namespace RemoteGpuTrainer.Engine.Recovery;

/// <summary>
/// What Start-GpuQueue -Recover records beside the queue: the checkpoints to keep mirrored while the cells
/// run (and where), and the limits a recovery must stay within. Read by every tick that mirrors.
/// </summary>
/// <param name="Artifacts">The files of a cell's checkpoint directory to mirror: the resume artifact first (latest.pth), then the kept one (best.pth).</param>
/// <param name="MirrorRoot">The local store; a cell's copies go to &lt;root&gt;/&lt;host&gt;/&lt;queue&gt;/&lt;index&gt;-&lt;cell&gt;.</param>
public sealed record RecoveryPolicy(
    string Host, string QueueId, IReadOnlyList<string> Artifacts, string MirrorRoot,
    int MaxRecoveries = 3, decimal? MaxSpend = null, DateTimeOffset? CreatedAt = null)
{
    /// <summary>A queue's policy: its host's resume artifact (latest.pth) and kept one (best.pth), mirrored under <paramref name="mirrorRoot"/> (default: mirror/ in the config directory).</summary>
    public static RecoveryPolicy For(string host, string queueId, Queues.GpuPlatformDefaults defaults, string? mirrorRoot, int maxRecoveries, decimal? maxSpend, DateTimeOffset now) =>
        new(host, queueId, new[] { defaults.Scratch, defaults.Keep }.Distinct().ToArray(),
            Path.GetFullPath(mirrorRoot ?? Path.Combine(ConfigPaths.ConfigDirectory, "mirror")), maxRecoveries, maxSpend, now);

    /// <summary>The local folder of one cell's mirror.</summary>
    public string CellDirectory(int index, string cell) =>
        Path.Combine(MirrorRoot, Safe(Host), Safe(QueueId), $"{index:00}-{Safe(cell)}");

    static string Safe(string name) => Regex.Replace(name, @"[^A-Za-z0-9._-]+", "_").Trim('.') is { Length: > 0 } s ? s : "_";
}

/// <summary>The recovery policies, one JSON file per host and queue under the config directory (written atomically, under the state lock).</summary>
public sealed class RecoveryStore
{
    static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public RecoveryStore(string? directory = null) => Directory = directory ?? Path.Combine(ConfigPaths.ConfigDirectory, "recovery");

    public string Directory { get; }

    string FileOf(string host, string queueId) =>
        Path.Combine(Directory, Regex.Replace($"{host}__{queueId}", @"[^A-Za-z0-9._-]+", "_") + ".json");

    public void Save(RecoveryPolicy policy)
    {
        var file = FileOf(policy.Host, policy.QueueId);
        using var _ = FileLock.Acquire(file, TimeSpan.FromSeconds(10));
        FileLock.WriteAllTextAtomic(file, JsonSerializer.Serialize(policy, Json));
    }

    /// <summary>The queue's policy; null when it has none. A file that cannot be read is an error, never "no policy".</summary>
    public RecoveryPolicy? Find(string host, string queueId)
    {
        var file = FileOf(host, queueId);
        if (!File.Exists(file)) return null;
        try
        {
            return JsonSerializer.Deserialize<RecoveryPolicy>(File.ReadAllText(file))
                ?? throw new JsonException("empty");
        }
        catch (Exception ex) when (ex is JsonException or IOException or NotSupportedException)
        {
            throw new RgtException("RecoveryPolicyUnreadable", FailureKind.InvalidData,
                $"The recovery policy of {host}/{queueId} ({file}) cannot be read ({ex.Message}); nothing is mirrored until it is fixed or Start-GpuQueue -Recover writes it again.", ex);
        }
    }
}
