using System.Text.Json;
using RemoteGpuTrainer.Engine.Model;

namespace RemoteGpuTrainer.Engine.Queues;

/// <summary>
/// The last queue ids and cells seen per host (queues.json in the config directory), written when
/// Get-GpuJob or Start-GpuQueue learn them, so tab completion of -QueueId and -Cell never needs SSH;
/// and each cell's last state seen by Get-GpuJob (cell-states.json), which is all there is to say of
/// the cells of a box the provider has taken back. Nothing is killed or torn down on its word.
/// </summary>
public sealed class QueueCache
{
    public QueueCache(string? path = null) => FilePath = path ?? Path.Combine(ConfigPaths.ConfigDirectory, "queues.json");

    public string FilePath { get; }

    /// <summary>host → queue id → cells.</summary>
    public Dictionary<string, Dictionary<string, List<string>>> Read()
    {
        try
        {
            return File.Exists(FilePath)
                ? JsonSerializer.Deserialize<Dictionary<string, Dictionary<string, List<string>>>>(File.ReadAllText(FilePath)) ?? new()
                : new();
        }
        catch (Exception ex) when (ex is JsonException or IOException or UnauthorizedAccessException) { return new(); }
    }

    /// <summary>Adds what was seen on a host (its queues are replaced by what the box listed).</summary>
    public void Record(string host, IEnumerable<(string QueueId, string Cell)> cells)
    {
        try
        {
            using var _ = FileLock.Acquire(FilePath, TimeSpan.FromSeconds(5));
            var all = Read();
            if (!all.TryGetValue(host, out var queues)) all[host] = queues = new();
            foreach (var g in cells.GroupBy(c => c.QueueId)) queues[g.Key] = g.Select(c => c.Cell).Distinct().ToList();
            var temp = FilePath + ".tmp";
            File.WriteAllText(temp, JsonSerializer.Serialize(all));
            File.Move(temp, FilePath, overwrite: true);
        }
        catch (Exception ex) when (ex is RgtException or IOException or UnauthorizedAccessException) { }
    }

    public void Record(IEnumerable<GpuJob> jobs)
    {
        var list = jobs.ToList();
        foreach (var g in list.GroupBy(j => j.Name, StringComparer.OrdinalIgnoreCase))
            Record(g.Key, g.Select(j => (j.QueueId, j.Cell)));
        RecordStates(list);
    }

    /// <summary>A cell as Get-GpuJob last saw it.</summary>
    /// <param name="Epoch">The last "Epoch k/N" of its log, with N in <paramref name="Epochs"/>, and when it started: a recovery's estimate of the time left.</param>
    public sealed record SeenCell(string QueueId, int Index, string Cell, string State, bool Final, DateTimeOffset SeenAt,
        int? Epoch = null, int? Epochs = null, DateTimeOffset? StartedAt = null);

    string StatesPath => Path.Combine(Path.GetDirectoryName(FilePath)!, "cell-states.json");

    /// <summary>host → the cells last seen there (from every queue), in queue and cell order.</summary>
    public Dictionary<string, List<SeenCell>> ReadStates()
    {
        try
        {
            return File.Exists(StatesPath)
                ? JsonSerializer.Deserialize<Dictionary<string, List<SeenCell>>>(File.ReadAllText(StatesPath)) ?? new()
                : new();
        }
        catch (Exception ex) when (ex is JsonException or IOException or UnauthorizedAccessException) { return new(); }
    }

    /// <summary>The cells last seen on the host, of one queue or all.</summary>
    public List<SeenCell> LastSeen(string host, string? queueId) =>
        (ReadStates().GetValueOrDefault(host) ?? new()).Where(c => queueId is null || c.QueueId == queueId).ToList();

    void RecordStates(IReadOnlyList<GpuJob> jobs)
    {
        if (jobs.Count == 0) return;
        try
        {
            using var _ = FileLock.Acquire(StatesPath, TimeSpan.FromSeconds(5));
            var all = ReadStates();
            var now = DateTimeOffset.UtcNow;
            foreach (var g in jobs.GroupBy(j => j.Name, StringComparer.OrdinalIgnoreCase))
            {
                var seen = g.Select(j => new SeenCell(j.QueueId, j.Index, j.Cell, j.State, j.IsFinal, now, j.Epoch, j.Epochs, j.StartedAt)).ToList();
                var queues = seen.Select(c => c.QueueId).ToHashSet(StringComparer.Ordinal);
                all[g.Key] = (all.GetValueOrDefault(g.Key) ?? new()).Where(c => !queues.Contains(c.QueueId)).Concat(seen)
                    .OrderBy(c => c.QueueId, StringComparer.Ordinal).ThenBy(c => c.Index).ToList();
            }
            var temp = StatesPath + ".tmp";
            File.WriteAllText(temp, JsonSerializer.Serialize(all));
            File.Move(temp, StatesPath, overwrite: true);
        }
        catch (Exception ex) when (ex is RgtException or IOException or UnauthorizedAccessException) { }
    }
}
