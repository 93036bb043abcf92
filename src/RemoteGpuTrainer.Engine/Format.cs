using System.Globalization;

namespace RemoteGpuTrainer.Engine;

/// <summary>Human units for views and messages; objects themselves carry bytes and TimeSpans.</summary>
public static class Format
{
    public static string Bytes(long? bytes)
    {
        if (bytes is null) return "?";
        double v = bytes.Value;
        string[] units = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
        int i = 0;
        while (Math.Abs(v) >= 1024 && i < units.Length - 1) { v /= 1024; i++; }
        return i == 0 ? $"{bytes} B" : v.ToString(v >= 100 ? "0" : "0.0", CultureInfo.InvariantCulture) + " " + units[i];
    }

    /// <summary>A span as people say it: "40 s", "12 min", "1.5 h".</summary>
    public static string Duration(TimeSpan t) => t.TotalMinutes >= 90 ? string.Create(CultureInfo.InvariantCulture, $"{t.TotalHours:0.0} h")
        : t.TotalMinutes >= 1 ? string.Create(CultureInfo.InvariantCulture, $"{t.TotalMinutes:0} min") : string.Create(CultureInfo.InvariantCulture, $"{t.TotalSeconds:0} s");
}
