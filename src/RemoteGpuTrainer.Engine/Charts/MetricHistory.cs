using System.Globalization;
using System.Text.Json;

namespace RemoteGpuTrainer.Engine.Charts;

/// <summary>One cell's curve of one metric: x is the step or epoch the trainer wrote (else the record's number).</summary>
public sealed record MetricSeries(string Cell, string XName, double[] X, double[] Y);

/// <summary>Reads a cell's metrics.jsonl (one JSON object per line) or metrics.csv (a header line, then rows).</summary>
public static class MetricHistory
{
    static readonly string[] XNames = { "step", "global_step", "iteration", "iter", "epoch" };

    public static MetricSeries Parse(string cell, string fileName, IReadOnlyList<string> lines, string metric)
    {
        var xs = new List<double>();
        var ys = new List<double>();
        string? xName = null;
        if (fileName.EndsWith(".csv", StringComparison.OrdinalIgnoreCase))
        {
            if (lines.Count == 0) return new MetricSeries(cell, "record", Array.Empty<double>(), Array.Empty<double>());
            var header = lines[0].Split(',').Select(h => h.Trim().Trim('"')).ToList();
            var yi = header.FindIndex(h => string.Equals(h, metric, StringComparison.OrdinalIgnoreCase));
            var xi = XNames.Select(n => header.FindIndex(h => string.Equals(h, n, StringComparison.OrdinalIgnoreCase))).FirstOrDefault(i => i >= 0, -1);
            if (xi >= 0) xName = header[xi];
            if (yi < 0) throw Missing(cell, fileName, metric, header);
            for (var n = 1; n < lines.Count; n++)
            {
                var f = lines[n].Split(',');
                if (yi >= f.Length || !Num(f[yi], out var y)) continue;
                xs.Add(xi >= 0 && xi < f.Length && Num(f[xi], out var x) ? x : n);
                ys.Add(y);
            }
        }
        else
        {
            var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            for (var n = 0; n < lines.Count; n++)
            {
                if (string.IsNullOrWhiteSpace(lines[n])) continue;
                JsonDocument doc;
                try { doc = JsonDocument.Parse(lines[n]); }
                catch (JsonException) { continue; } // a line being written, or not a record
                using (doc)
                {
                    if (doc.RootElement.ValueKind != JsonValueKind.Object) continue;
                    double? x = null, y = null;
                    var best = int.MaxValue;
                    foreach (var p in doc.RootElement.EnumerateObject())
                    {
                        seen.Add(p.Name);
                        if (p.Value.ValueKind != JsonValueKind.Number) continue;
                        if (string.Equals(p.Name, metric, StringComparison.OrdinalIgnoreCase)) y = p.Value.GetDouble();
                        var rank = Array.FindIndex(XNames, k => string.Equals(k, p.Name, StringComparison.OrdinalIgnoreCase));
                        if (rank >= 0 && rank < best) { best = rank; xName = p.Name; x = p.Value.GetDouble(); }
                    }
                    if (y is null) continue;
                    xs.Add(x ?? n + 1);
                    ys.Add(y.Value);
                }
            }
            if (ys.Count == 0 && seen.Count > 0) throw Missing(cell, fileName, metric, seen);
        }
        return new MetricSeries(cell, xName ?? "record", xs.ToArray(), ys.ToArray());
    }

    static RgtException Missing(string cell, string file, string metric, IEnumerable<string> names) =>
        new("MetricNotFound", FailureKind.NotFound, $"{cell}: {file} has no numeric '{metric}'; it has: {string.Join(", ", names.Take(20))}.");

    static bool Num(string s, out double v) => double.TryParse(s.Trim().Trim('"'), NumberStyles.Float, CultureInfo.InvariantCulture, out v);
}
