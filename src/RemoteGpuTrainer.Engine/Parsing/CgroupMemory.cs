using System.Globalization;

namespace RemoteGpuTrainer.Engine.Parsing;

/// <summary>The container's memory limit, usage and OOM-kill count; null where the box does not say.</summary>
public sealed record CgroupMemory(int Version, long? LimitBytes, long? UsageBytes, long? OomKills)
{
    public double? UsedPercent => LimitBytes is > 0 && UsageBytes is not null ? 100.0 * UsageBytes.Value / LimitBytes.Value : null;

    public override string ToString() =>
        $"{Format.Bytes(UsageBytes)} of {(LimitBytes is null ? "no limit" : Format.Bytes(LimitBytes))}{(UsedPercent is { } p ? string.Create(CultureInfo.InvariantCulture, $" ({p:0} %)") : "")}, {OomKills?.ToString(CultureInfo.InvariantCulture) ?? "?"} OOM kill(s) (cgroup v{Version})";

    /// <summary>
    /// cgroup v2: memory.max ("max" = no limit), memory.current, memory.events (oom_kill).
    /// cgroup v1: memory.limit_in_bytes (a huge value = no limit), memory.usage_in_bytes, memory.oom_control (oom_kill).
    /// </summary>
    public static CgroupMemory FromV2(string? max, string? current, string? events) =>
        new(2, Bytes(max), Bytes(current), Counter(events, "oom_kill"));

    public static CgroupMemory FromV1(string? limit, string? usage, string? oomControl)
    {
        var l = Bytes(limit);
        // v1 reports "no limit" as a page-rounded LONG_MAX
        if (l is > (1L << 60)) l = null;
        return new(1, l, Bytes(usage), Counter(oomControl, "oom_kill"));
    }

    /// <summary>memory.stat's "key value" lines (anon, file, kernel, ...).</summary>
    public static IReadOnlyDictionary<string, long> ParseStat(string text)
    {
        var map = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            var p = line.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (p.Length == 2 && long.TryParse(p[1], NumberStyles.None, CultureInfo.InvariantCulture, out var v)) map[p[0]] = v;
        }
        return map;
    }

    static long? Bytes(string? text)
    {
        var t = text?.Trim();
        return long.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : null;
    }

    static long? Counter(string? text, string key)
    {
        foreach (var line in (text ?? "").Split('\n'))
        {
            var parts = line.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 2 && parts[0] == key && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var v)) return v;
        }
        return null;
    }
}
