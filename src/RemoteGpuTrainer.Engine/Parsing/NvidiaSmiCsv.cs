using System.Globalization;
using RemoteGpuTrainer.Engine.Model;

namespace RemoteGpuTrainer.Engine.Parsing;

/// <summary>The result of parsing `nvidia-smi --query-gpu=… --format=csv[,noheader][,nounits]`.</summary>
public sealed record QueryGpuResult(IReadOnlyList<GpuDevice> Gpus, IReadOnlyList<string> Problems);

/// <summary>
/// Reads --query-gpu CSV with or without header and units. nvidia-smi writes ", " between fields
/// and no quoting; values carry units ("38 %", "575 MiB") unless nounits; unknown values are
/// bracketed ([N/A], [Not Supported], [Unknown Error], [GPU is lost]) or, for a few fields, bare N/A.
/// </summary>
public static class NvidiaSmiCsv
{
    static readonly string[] ReasonPrefixes = { "clocks_event_reasons.", "clocks_throttle_reasons." };
    static readonly HashSet<string> NotReasons = new(StringComparer.Ordinal) { "active", "supported" };

    /// <param name="fields">The queried field names when the output has no header line.</param>
    public static QueryGpuResult Parse(string text, IReadOnlyList<string>? fields = null)
    {
        var problems = new List<string>();
        var lines = text.Replace("\r\n", "\n").Split('\n').Where(l => l.Trim().Length > 0).ToList();
        if (lines.Count > 0 && lines[0].Contains("[GPU is lost]", StringComparison.Ordinal) && fields is null)
            problems.Add("nvidia-smi reported a GPU as lost");
        IReadOnlyList<string> header;
        if (fields is null)
        {
            if (lines.Count == 0) return new QueryGpuResult(Array.Empty<GpuDevice>(), new[] { "nvidia-smi --query-gpu printed nothing" });
            header = Split(lines[0]).Select(NormalizeField).ToList();
            lines.RemoveAt(0);
        }
        else header = fields.Select(NormalizeField).ToList();

        var gpus = new List<GpuDevice>();
        int rowNo = 0;
        foreach (var line in lines)
        {
            rowNo++;
            var values = Split(line);
            if (values.Count != header.Count)
            {
                problems.Add($"--query-gpu row {rowNo} has {values.Count} fields where the header has {header.Count}: {Truncate(line)}");
                continue;
            }
            var row = new Dictionary<string, string>(StringComparer.Ordinal);
            for (int i = 0; i < header.Count; i++) row[header[i]] = values[i];
            gpus.Add(ToDevice(row, gpus.Count));
        }
        return new QueryGpuResult(gpus, problems);
    }

    static GpuDevice ToDevice(Dictionary<string, string> row, int ordinal)
    {
        var f = new FieldReader(k => row.TryGetValue(k, out var v) ? v : null);
        bool lost = row.Values.Any(v => v.Contains("GPU is lost", StringComparison.OrdinalIgnoreCase));
        var reasons = row.Where(kv => ReasonPrefixes.Any(p => kv.Key.StartsWith(p, StringComparison.Ordinal)))
            .Select(kv => (Name: kv.Key[(kv.Key.IndexOf('.') + 1)..], kv.Value))
            .Where(r => !NotReasons.Contains(r.Name) && r.Value.Trim() == "Active")
            .Select(r => r.Name).Distinct().ToArray();
        var index = f.Num("index");
        var ecc = f.Num("ecc.errors.uncorrected.volatile.total");
        return new GpuDevice
        {
            Index = index is null ? (row.ContainsKey("index") ? null : ordinal) : (int)index,
            Name = f.Text("name"),
            Uuid = f.Text("uuid"),
            BusId = f.Text("pci.bus_id"),
            TemperatureC = f.Num("temperature.gpu"),
            GpuUtilization = f.Num("utilization.gpu"),
            MemoryUtilization = f.Num("utilization.memory"),
            MemoryUsedMiB = f.Num("memory.used"),
            MemoryTotalMiB = f.Num("memory.total"),
            SmClockMHz = f.Num("clocks.current.sm", "clocks.sm"),
            SmClockMaxMHz = f.Num("clocks.max.sm", "clocks.max.sm_clock"),
            PowerDrawW = f.Num("power.draw", "power.draw.instant", "power.draw.average"),
            PowerLimitW = f.Num("enforced.power.limit", "power.limit"),
            PState = f.Text("pstate"),
            UncorrectedEcc = ecc is null ? null : (long)ecc,
            ThrottleReasons = reasons,
            Lost = lost,
            Unavailable = f.Unavailable.ToArray(),
        };
    }

    /// <summary>"memory.used [MiB]" → "memory.used"; "clocks_throttle_reasons.hw_slowdown" kept as is.</summary>
    internal static string NormalizeField(string header)
    {
        var h = header.Trim();
        var bracket = h.IndexOf(" [", StringComparison.Ordinal);
        return (bracket > 0 ? h[..bracket] : h).Trim();
    }

    internal static bool IsUnknown(string value) => FieldReader.IsUnknown(value);

    static List<string> Split(string line) => line.Split(',').Select(v => v.Trim()).ToList();

    static string Truncate(string s) => s.Length <= 120 ? s : s[..117] + "...";
}
