using System.Text.Json;
using RemoteGpuTrainer.Engine.Model;

namespace RemoteGpuTrainer.Engine.Queues;

/// <summary>
/// The last queue ids and cells seen per host (queues.json in the config directory), written when
/// Get-GpuJob or Start-GpuQueue learn them, so tab completion of -QueueId and -Cell never needs SSH.
/// It is a hint for completion only: nothing decides anything from it.
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
        foreach (var g in jobs.GroupBy(j => j.Name, StringComparer.OrdinalIgnoreCase))
            Record(g.Key, g.Select(j => (j.QueueId, j.Cell)));
    }
}
