using System.Globalization;

namespace RemoteGpuTrainer.Engine.Parsing;

/// <summary>
/// Reads nvidia-smi fields from any of its formats (CSV row, -q path, XML path): the first key that
/// exists wins; unknown values ([N/A], N/A, [Not Supported], Unknown Error, empty) become null and are
/// listed in <see cref="Unavailable"/>; numbers lose their unit ("38 %", "575 MiB").
/// </summary>
internal sealed class FieldReader
{
    readonly Func<string, string?> _lookup;

    public FieldReader(Func<string, string?> lookup) => _lookup = lookup;

    public List<string> Unavailable { get; } = new();

    public string? Text(params string[] keys)
    {
        foreach (var k in keys)
        {
            var v = _lookup(k);
            if (v is null) continue;
            if (IsUnknown(v)) { Unavailable.Add(k); return null; }
            return v;
        }
        return null;
    }

    public double? Num(params string[] keys)
    {
        var t = Text(keys);
        return t is not null && double.TryParse(t.Split(' ')[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : null;
    }

    public static bool IsUnknown(string value)
    {
        var v = value.Trim();
        return v.Length == 0 || v is "N/A" or "Unknown Error" or "Not Supported" || (v.StartsWith('[') && v.EndsWith(']'));
    }
}
