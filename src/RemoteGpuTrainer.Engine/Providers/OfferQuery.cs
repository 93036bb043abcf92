using System.Globalization;
using System.Text.RegularExpressions;

namespace RemoteGpuTrainer.Engine.Providers;

/// <summary>What Get-GpuOffer asks every provider for.</summary>
public sealed record OfferQuery(string? GpuName, int GpuCount, double? MinGpuMemoryGB, decimal? MaxHourlyPrice, string? Region, bool Interruptible)
{
    /// <summary>"A100:8" → A100 and 8; "H100" → H100 and 1.</summary>
    public static (string Name, int Count) ParseGpu(string spec)
    {
        var m = Regex.Match(spec.Trim(), @"^(?<name>[^:]+?)\s*(?::\s*(?<count>\d+))?$", RegexOptions.CultureInvariant);
        if (!m.Success || (m.Groups["count"].Success && int.Parse(m.Groups["count"].Value, CultureInfo.InvariantCulture) is < 1 or > 64))
            throw new RgtException("GpuSpecInvalid", FailureKind.InvalidArgument, $"'{spec}' is not a GPU request; write the model and the count, e.g. 'A100:8' or 'RTX 4090:1'.");
        return (m.Groups["name"].Value.Trim(), m.Groups["count"].Success ? int.Parse(m.Groups["count"].Value, CultureInfo.InvariantCulture) : 1);
    }

    /// <summary>
    /// Whether a provider's GPU name is the model asked for: every word of the request is a word of the
    /// name ("A100" matches "NVIDIA A100 80GB PCIe" and "1x A100 (40 GB SXM4)", never "A10").
    /// </summary>
    public bool Matches(string providerName)
    {
        if (string.IsNullOrWhiteSpace(GpuName)) return true;
        var have = Words(providerName);
        return Words(GpuName).All(have.Contains);
    }

    /// <summary>The filters every provider's offers pass the same way, whatever the API filtered already.</summary>
    public bool Accepts(Model.GpuOffer o) =>
        Matches(o.Gpu) && o.GpuCount == GpuCount && o.Interruptible == Interruptible
        && (MinGpuMemoryGB is null || o.GpuMemoryGB >= MinGpuMemoryGB)
        && (MaxHourlyPrice is null || o.HourlyPrice <= MaxHourlyPrice)
        && (string.IsNullOrEmpty(Region) || (o.Region ?? "").Contains(Region, StringComparison.OrdinalIgnoreCase));

    /// <summary>The offers this query accepts, from every provider together, cheapest first (the more reliable host first at one price).</summary>
    public List<Model.GpuOffer> Rank(IEnumerable<Model.GpuOffer> offers) =>
        offers.Where(Accepts).OrderBy(o => o.HourlyPrice).ThenByDescending(o => o.Reliability ?? 1).ToList();

    static HashSet<string> Words(string s) =>
        Regex.Split(s.ToUpperInvariant().Replace("RTX", " RTX "), "[^A-Z0-9]+").Where(w => w.Length > 0).ToHashSet(StringComparer.Ordinal);
}
