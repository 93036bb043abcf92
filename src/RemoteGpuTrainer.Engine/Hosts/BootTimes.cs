using System.Text.Json;

namespace RemoteGpuTrainer.Engine.Hosts;

/// <summary>
/// When each box last booted, as Test-GpuHost saw it (boots.json in the config directory), so that
/// Get-GpuHost can show the spend so far without connecting. Informational: nothing decides from it.
/// </summary>
public sealed class BootTimes
{
    public BootTimes(string? path = null) => FilePath = path ?? Path.Combine(ConfigPaths.ConfigDirectory, "boots.json");

    public string FilePath { get; }

    public Dictionary<string, DateTimeOffset> Read()
    {
        try
        {
            return File.Exists(FilePath)
                ? JsonSerializer.Deserialize<Dictionary<string, DateTimeOffset>>(File.ReadAllText(FilePath)) is { } d
                    ? new Dictionary<string, DateTimeOffset>(d, StringComparer.OrdinalIgnoreCase) : new(StringComparer.OrdinalIgnoreCase)
                : new(StringComparer.OrdinalIgnoreCase);
        }
        catch (Exception ex) when (ex is JsonException or IOException or UnauthorizedAccessException) { return new(StringComparer.OrdinalIgnoreCase); }
    }

    public void Record(string host, DateTimeOffset bootedAt)
    {
        try
        {
            using var _ = FileLock.Acquire(FilePath, TimeSpan.FromSeconds(5));
            var all = Read();
            all[host] = bootedAt;
            var temp = FilePath + ".tmp";
            File.WriteAllText(temp, JsonSerializer.Serialize(all));
            File.Move(temp, FilePath, overwrite: true);
        }
        catch (Exception ex) when (ex is RgtException or IOException or UnauthorizedAccessException) { }
    }
}
