using System.Globalization;
using RemoteGpuTrainer.Engine.Model;

namespace RemoteGpuTrainer.Engine.Platforms;

/// <summary>
/// Which platform facts are due for re-checking. A stamp "YYYY-MM" counts from the first day of its
/// month (the oldest it can be); a profile without stamps was never checked, and an unreadable stamp
/// is as good as none.
/// </summary>
public static class Staleness
{
    public static readonly TimeSpan DefaultAge = TimeSpan.FromDays(6 * 30.4375);

    public static IEnumerable<GpuPlatformFact> StaleFacts(GpuPlatform p, DateTimeOffset now, TimeSpan olderThan)
    {
        if (p.Verified.Count == 0)
        {
            yield return new GpuPlatformFact { Platform = p.Name, Fact = "*", Reason = "no fact of this profile carries a verified stamp" };
            yield break;
        }
        foreach (var (fact, stamp) in p.Verified.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (Stamp(stamp) is not { } on)
                yield return new GpuPlatformFact { Platform = p.Name, Fact = fact, Verified = stamp, Reason = $"the stamp '{stamp}' is not YYYY-MM" };
            else if (now - on > olderThan)
                yield return new GpuPlatformFact { Platform = p.Name, Fact = fact, Verified = stamp, AgeDays = (int)(now - on).TotalDays, Reason = $"verified {stamp}, {(int)(now - on).TotalDays} days ago" };
        }
    }

    /// <summary>
    /// One warning for a new host when the platform has danger clocks and its newest stamp is older than
    /// <paramref name="olderThan"/> (or it has none): which facts are stale, and when they were last verified.
    /// </summary>
    public static string? DangerClockWarning(GpuPlatform p, DateTimeOffset now, TimeSpan olderThan)
    {
        if (p.DangerClocks.Length == 0) return null;
        var newest = p.Verified.Values.Select(Stamp).Where(d => d is not null).Max();
        if (newest is { } n && now - n <= olderThan) return null;
        if (newest is null) return $"{p.DisplayName}: its danger clocks have never been verified (no fact of its profile carries a stamp); check them in the platform's console before relying on them (Get-GpuPlatform {p.Name} -Stale lists what is due).";
        var stale = StaleFacts(p, now, olderThan).Select(f => f.Fact).ToList();
        return $"{p.DisplayName}: {stale.Count} fact(s) of its profile were last verified {newest:yyyy-MM} ({string.Join(", ", stale.Take(4))}{(stale.Count > 4 ? ", …" : "")}); check the danger clocks in the platform's console before relying on them (Get-GpuPlatform {p.Name} -Stale lists what is due).";
    }

    static DateTimeOffset? Stamp(string s) =>
        DateTimeOffset.TryParseExact(s.Trim(), "yyyy-MM", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var d) ? d : null;
}
