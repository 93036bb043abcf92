using System.Globalization;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Providers;

namespace RemoteGpuTrainer.Engine.Rentals;

/// <summary>
/// What a rental like this one is made from: the offer search it came from (providers, GPU model and
/// count, price cap, interruptible) and how its instance was created (image, disk, login user). Recorded
/// with every rental New-GpuRental creates, so a recovery can rent "the next offer like it" without
/// the user having to say again what they asked for.
/// </summary>
public sealed record RentalTemplate(IReadOnlyList<string> Providers, string Gpu, int GpuCount, decimal? MaxHourlyPrice, bool Interruptible,
    string? Region = null, string? Image = null, int DiskGB = 50, string? User = null)
{
    /// <summary>The template of a search (New-GpuRental -Provider -Gpu …).</summary>
    public static RentalTemplate FromQuery(IEnumerable<string> providers, OfferQuery query, string? image, int diskGB, string? user) =>
        new(providers.Distinct().ToList(), query.GpuName ?? "", query.GpuCount, query.MaxHourlyPrice, query.Interruptible, query.Region, image, diskGB, user);

    /// <summary>
    /// The template of offers picked by hand (Get-GpuOffer … | New-GpuRental, Start-GpuQueue -RecoverFrom):
    /// their providers, the first offer's GPU and count, whether it was interruptible, and the dearest of
    /// their prices as the cap.
    /// </summary>
    public static RentalTemplate FromOffers(IReadOnlyList<GpuOffer> offers, string? image, int diskGB, string? user)
    {
        if (offers.Count == 0)
            throw new RgtException("NoOffer", FailureKind.InvalidArgument, "No offer was given to rent from: pipe offers from Get-GpuOffer.");
        var first = offers[0];
        return new(offers.Select(o => o.Provider).Distinct().ToList(), first.Gpu, first.GpuCount, offers.Max(o => o.HourlyPrice), first.Interruptible, null, image, diskGB, user);
    }

    public OfferQuery Query() => new(Gpu.Length == 0 ? null : Gpu, GpuCount, null, MaxHourlyPrice, Region, Interruptible);

    public override string ToString() =>
        $"{string.Join(",", Providers)} {GpuCount}x {Gpu}{(Interruptible ? " interruptible" : "")}" +
        (MaxHourlyPrice is { } p ? $" at most {p.ToString(CultureInfo.InvariantCulture)}/h" : "");
}
