using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using RemoteGpuTrainer.Engine.Model;

namespace RemoteGpuTrainer.Engine.Platforms;

/// <summary>
/// What a new registration tells the user. A warning is for what can cost money or data soon: the two
/// nearest danger clocks (each with when it was last verified), and a durable directory the platform
/// cannot name. Everything else the profile says goes to -Verbose. How stale the clocks are is said
/// once per platform per day, in place of the second clock, so registration never grows past two
/// lines for that.
/// </summary>
public static class RegistrationAdvice
{
    public sealed record Advice(IReadOnlyList<string> Warnings, IReadOnlyList<string> Details);

    /// <summary>How soon a clock runs out: "immediate" is now, "15 days" / "~10 days" / "2-week" are parsed, anything else is not known (last).</summary>
    public static TimeSpan? Nearness(GpuDangerClock clock)
    {
        var after = clock.After?.Trim().ToLowerInvariant() ?? "";
        if (after.StartsWith("immediate", StringComparison.Ordinal)) return TimeSpan.Zero;
        var m = Regex.Match(after, @"(\d+(?:\.\d+)?)[\s-]*(minute|min|hour|h\b|day|week|month)");
        if (!m.Success) return null;
        var n = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        return m.Groups[2].Value switch
        {
            "minute" or "min" => TimeSpan.FromMinutes(n),
            "hour" or "h" => TimeSpan.FromHours(n),
            "day" => TimeSpan.FromDays(n),
            "week" => TimeSpan.FromDays(7 * n),
            _ => TimeSpan.FromDays(30 * n),
        };
    }

    /// <param name="staleDue">Asked once a registration has a stale clock: true the first time today for this platform (and records it).</param>
    public static Advice For(GpuPlatform platform, GpuHost host, DateTimeOffset now, Func<string, bool> staleDue)
    {
        var warnings = new List<string>();
        var details = platform.Notices.Select(n => $"{platform.DisplayName}: {(n.StartsWith("WARN: ", StringComparison.Ordinal) ? n[6..] : n)}").ToList();
        var clocks = platform.DangerClocks.OrderBy(c => Nearness(c) ?? TimeSpan.MaxValue).ToList();
        var verified = Verified(platform);
        var stale = Staleness.DangerClockWarning(platform, now, Staleness.DefaultAge) is { } s && staleDue(platform.Name) ? s : null;
        var shown = clocks.Take(stale is null ? 2 : 1).ToList();
        foreach (var c in shown) warnings.Add($"{platform.DisplayName} danger clock: {c} ({verified}).");
        if (stale is not null) warnings.Add(stale);
        if (warnings.Count > 0) warnings[^1] += $" Get-GpuPlatform {platform.Name} shows all its facts.";
        details.AddRange(clocks.Skip(shown.Count).Select(c => $"{platform.DisplayName} danger clock: {c} ({verified})."));
        if (host.DataDir is null || host.DurableDir is null)
            warnings.Add($"{platform.DisplayName}: {platform.PathNote ?? "no default path for the data or durable directory"}; set it with Set-GpuHost {host.Name} -DataDir/-DurableDir.");
        return new Advice(warnings, details);
    }

    static string Verified(GpuPlatform p)
    {
        var newest = p.Verified.Values.Select(v => DateTimeOffset.TryParseExact(v.Trim(), "yyyy-MM", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var d) ? d : (DateTimeOffset?)null)
            .Where(d => d is not null).Max();
        return newest is { } n ? $"last verified {n:yyyy-MM}" : "never verified";
    }

    /// <summary>
    /// A staleness reminder is due for <paramref name="platform"/> when none was given on this UTC day;
    /// saying yes records the day in <paramref name="file"/> (under the file lock). An unreadable file
    /// counts as "due": a reminder too many is better than none.
    /// </summary>
    public static bool StaleReminderDue(string file, string platform, DateTimeOffset now)
    {
        var today = now.UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        using var _ = FileLock.Acquire(file, TimeSpan.FromSeconds(5));
        Dictionary<string, string> said;
        try { said = File.Exists(file) ? JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(file)) ?? new() : new(); }
        catch (JsonException) { said = new(); }
        if (said.TryGetValue(platform, out var day) && day == today) return false;
        said[platform] = today;
        FileLock.WriteAllTextAtomic(file, JsonSerializer.Serialize(said));
        return true;
    }
}
