using System.Globalization;
using System.Management.Automation;
using System.Text.RegularExpressions;

namespace RemoteGpuTrainer;

/// <summary>
/// Lets a TimeSpan parameter take what people type: 5s, 90s, 10m, 2h, 1d, 2w, 6mo (and 1h30m), besides a
/// TimeSpan or "hh:mm:ss". PowerShell reads an unquoted 5s as the number 5 of type short (its "s"
/// suffix) and 1d as the decimal 1 (its "d" suffix): those are taken as seconds and days. Any other
/// bare number is refused rather than read as ticks.
/// </summary>
public sealed class DurationAttribute : ArgumentTransformationAttribute
{
    static readonly Regex Parts = new(@"^\s*(?:(\d+(?:\.\d+)?)\s*(ms|mo|s|m|h|d|w)\s*)+$", RegexOptions.IgnoreCase);

    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
    {
        var value = inputData is PSObject p ? p.BaseObject : inputData;
        if (value is TimeSpan) return value;
        // A bare 0 needs no unit (-MinimumAge 0); any other bare number does, rather than being read as ticks.
        if (value is int or long or byte && Convert.ToInt64(value, CultureInfo.InvariantCulture) == 0 || value is string { Length: > 0 } z && z.Trim() == "0") return TimeSpan.Zero;
        if (value is short seconds) return TimeSpan.FromSeconds(seconds);
        if (value is decimal days) return TimeSpan.FromDays((double)days);
        if (value is string s)
        {
            if (TimeSpan.TryParse(s, CultureInfo.InvariantCulture, out var t) && s.Contains(':')) return t;
            if (Parts.IsMatch(s))
            {
                var total = TimeSpan.Zero;
                foreach (Match m in Regex.Matches(s, @"(\d+(?:\.\d+)?)\s*(ms|mo|s|m|h|d|w)", RegexOptions.IgnoreCase))
                {
                    var n = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
                    total += m.Groups[2].Value.ToLowerInvariant() switch
                    {
                        "ms" => TimeSpan.FromMilliseconds(n), "s" => TimeSpan.FromSeconds(n), "m" => TimeSpan.FromMinutes(n),
                        "h" => TimeSpan.FromHours(n), "w" => TimeSpan.FromDays(7 * n), "mo" => TimeSpan.FromDays(30.4375 * n), _ => TimeSpan.FromDays(n),
                    };
                }
                return total;
            }
        }
        throw new ArgumentTransformationMetadataException($"'{value}' is not a duration: write it as 5s, 10m, 2h, 1d, 2w, 6mo or hh:mm:ss.");
    }
}
