using System.Globalization;
using RemoteGpuTrainer.Engine.Queues;

namespace RemoteGpuTrainer.Engine.Recovery;

/// <summary>
/// The money side of a recovery: what the queue's rentals have cost so far (each link of its chain at its
/// hourly price, from when it started billing to when the provider took it back, the last one until now),
/// and the time the unfinished cells still need (from the epochs per hour its cells were seen to make).
/// Renting the next box is allowed only while spent + its price × that time stays under -MaxSpend.
/// </summary>
public static class RecoverySpend
{
    /// <summary>When no cell has shown an epoch rate yet, the next rental is judged by one hour of it.</summary>
    public const double FallbackHours = 1.0;

    public static decimal Spent(RecoveryPolicy policy, IReadOnlyList<JournalEntry> entries, DateTimeOffset now)
    {
        decimal total = 0;
        decimal? price = policy.StartPrice;
        DateTimeOffset? since = policy.CreatedAt ?? now;
        void Close(DateTimeOffset at)
        {
            if (since is { } s && price is { } p && at > s) total += p * (decimal)(at - s).TotalHours;
            since = null;
        }
        foreach (var e in entries)
            switch (e.Step)
            {
                case "preempted": Close(e.Time); break;
                case "restarted": since ??= e.Time; break;
                case "rented": Close(e.Time); (price, since) = (e.Price, e.Time); break;
                case "abandoned": Close(e.Time); break;
            }
        Close(now);
        return Math.Round(total, 4);
    }

    /// <summary>
    /// Hours the unfinished cells still need on one box, one after the other: each cell's epochs left (its
    /// last seen N less the epoch mirrored for it) at the hours per epoch its queue's cells were seen to take.
    /// </summary>
    public static (double Hours, string How) Remaining(IReadOnlyList<QueueCache.SeenCell> seen, IReadOnlyList<string> unfinished, Func<string, long?> mirrored)
    {
        var rates = seen.Where(c => c.StartedAt is { } s && c.Epoch is > 0 && c.SeenAt > s)
            .Select(c => (c.SeenAt - c.StartedAt!.Value).TotalHours / c.Epoch!.Value).ToList();
        var epochs = seen.Where(c => c.Epochs is > 0).Select(c => c.Epochs!.Value).ToList();
        if (rates.Count == 0 || epochs.Count == 0)
            return (FallbackHours * Math.Max(1, unfinished.Count), $"no epoch rate seen yet: {FallbackHours:0.#} h a cell assumed");
        var perEpoch = rates.Average();
        var left = unfinished.Sum(c => Math.Max(0, (seen.FirstOrDefault(s => s.Cell == c)?.Epochs ?? epochs.Max()) - (mirrored(c) ?? 0)));
        var hours = left * perEpoch;
        return (hours, $"{left} epoch(s) left at {perEpoch * 3600:0.#} s an epoch");
    }

    public static string Money(decimal value) => value.ToString("0.00##", CultureInfo.InvariantCulture);
}
