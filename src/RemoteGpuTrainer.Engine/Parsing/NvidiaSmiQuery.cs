using System.Globalization;
using System.Text.RegularExpressions;
using RemoteGpuTrainer.Engine.Model;

namespace RemoteGpuTrainer.Engine.Parsing;

/// <summary>
/// Reads `nvidia-smi -q` text: the header, then one "GPU &lt;bus id&gt;" block per device with indented
/// "Key : Value" lines and titled sub-blocks. Throttle reasons are read from "Clocks Event Reasons"
/// (535+) or "Clocks Throttle Reasons" (older); MIG Device sub-blocks are skipped for the parent's values.
/// </summary>
public static class NvidiaSmiQuery
{
    static readonly Regex GpuHeader = new(@"^GPU ([0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.\d)\s*$", RegexOptions.CultureInvariant);

    static readonly Dictionary<string, string> ReasonNames = new(StringComparer.Ordinal)
    {
        ["Idle"] = "gpu_idle", ["Applications Clocks Setting"] = "applications_clocks_setting", ["SW Power Cap"] = "sw_power_cap",
        ["HW Slowdown"] = "hw_slowdown", ["HW Thermal Slowdown"] = "hw_thermal_slowdown", ["HW Power Brake Slowdown"] = "hw_power_brake_slowdown",
        ["Sync Boost"] = "sync_boost", ["SW Thermal Slowdown"] = "sw_thermal_slowdown", ["Display Clock Setting"] = "display_clock_setting",
    };

    public static QueryGpuResult Parse(string text)
    {
        var problems = new List<string>();
        var lines = text.Replace("\r\n", "\n").Split('\n');
        int? attached = null;
        var blocks = new List<(string Bus, List<string> Lines)>();
        foreach (var line in lines)
        {
            var h = GpuHeader.Match(line);
            if (h.Success) { blocks.Add((h.Groups[1].Value, new List<string>())); continue; }
            if (blocks.Count == 0)
            {
                var (k, v) = KeyValue(line);
                if (k == "Attached GPUs" && int.TryParse(v, out var n)) attached = n;
                continue;
            }
            blocks[^1].Lines.Add(line);
        }
        if (attached is not null && attached != blocks.Count)
            problems.Add($"nvidia-smi -q says {attached} GPUs are attached but lists {blocks.Count}: the output is truncated");
        var gpus = new List<GpuDevice>();
        foreach (var (bus, blockLines) in blocks) gpus.Add(ReadGpu(bus, blockLines, gpus.Count, problems));
        return new QueryGpuResult(gpus, problems);
    }

    static GpuDevice ReadGpu(string bus, List<string> lines, int ordinal, List<string> problems)
    {
        // Flatten to "Section/Sub/Key" paths by indentation (4 spaces per level).
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        var path = new List<(int Indent, string Name)>();
        var reasons = new List<string>();
        bool lost = false;
        foreach (var raw in lines)
        {
            if (raw.Trim().Length == 0) continue;
            int indent = raw.Length - raw.TrimStart().Length;
            while (path.Count > 0 && path[^1].Indent >= indent) path.RemoveAt(path.Count - 1);
            var (key, value) = KeyValue(raw);
            if (value is null) { path.Add((indent, key)); continue; }
            if (path.Any(p => p.Name == "MIG Devices" || p.Name == "Processes")) continue;
            var full = string.Join('/', path.Select(p => p.Name).Append(key));
            values.TryAdd(full, value);
            if (value.Contains("GPU is lost", StringComparison.OrdinalIgnoreCase)) lost = true;
            var section = path.Count > 0 ? path[0].Name : "";
            if (section is "Clocks Event Reasons" or "Clocks Throttle Reasons")
            {
                if (!ReasonNames.TryGetValue(key, out var name))
                    problems.Add($"GPU {bus}: unknown clock event reason '{key}' (edited or unsupported output)");
                else if (value == "Active") reasons.Add(name);
            }
        }
        var f = new FieldReader(k => values.TryGetValue(k, out var v) ? v : null);
        var ecc = f.Num("ECC Errors/Volatile/DRAM Uncorrectable", "ECC Errors/Volatile/Double Bit/Total", "ECC Errors/Volatile/SRAM Uncorrectable");
        var sram = f.Num("ECC Errors/Volatile/SRAM Uncorrectable");
        if (ecc is not null && sram is not null && values.ContainsKey("ECC Errors/Volatile/DRAM Uncorrectable")) ecc += sram;
        return new GpuDevice
        {
            Index = ordinal,
            Name = f.Text("Product Name"),
            Uuid = f.Text("GPU UUID"),
            BusId = bus,
            TemperatureC = f.Num("Temperature/GPU Current Temp"),
            GpuUtilization = f.Num("Utilization/Gpu", "Utilization/GPU"),
            MemoryUtilization = f.Num("Utilization/Memory"),
            MemoryUsedMiB = f.Num("FB Memory Usage/Used"),
            MemoryTotalMiB = f.Num("FB Memory Usage/Total"),
            SmClockMHz = f.Num("Clocks/SM"),
            SmClockMaxMHz = f.Num("Max Clocks/SM"),
            PowerDrawW = f.Num("GPU Power Readings/Power Draw", "GPU Power Readings/Instantaneous Power Draw", "Power Readings/Power Draw"),
            PowerLimitW = f.Num("GPU Power Readings/Current Power Limit", "Power Readings/Power Limit", "GPU Power Readings/Enforced Power Limit", "Power Readings/Enforced Power Limit"),
            PState = f.Text("Performance State"),
            UncorrectedEcc = ecc is null ? null : (long)ecc,
            ThrottleReasons = reasons.Distinct().ToArray(),
            Lost = lost,
            Unavailable = f.Unavailable.ToArray(),
        };
    }

    static (string Key, string? Value) KeyValue(string line)
    {
        var i = line.IndexOf(" : ", StringComparison.Ordinal);
        if (i < 0)
        {
            var t = line.Trim();
            return t.EndsWith(" :", StringComparison.Ordinal) ? (t[..^2].Trim(), "") : (t, null);
        }
        return (line[..i].Trim(), line[(i + 3)..].Trim());
    }
}
