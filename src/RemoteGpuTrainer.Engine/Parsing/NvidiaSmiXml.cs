using System.Globalization;
using System.Xml;
using System.Xml.Linq;
using RemoteGpuTrainer.Engine.Model;

namespace RemoteGpuTrainer.Engine.Parsing;

/// <summary>
/// Reads `nvidia-smi -q -x`: DTD v10-v13 (the DOCTYPE is ignored, never fetched), throttle reasons
/// under clocks_event_reasons (535+) or clocks_throttle_reasons, power under gpu_power_readings or
/// power_readings, ECC under DRAM/SRAM or the older double_bit counters.
/// </summary>
public static class NvidiaSmiXml
{
    public static QueryGpuResult Parse(string text)
    {
        XDocument doc;
        try
        {
            using var reader = XmlReader.Create(new StringReader(text), new XmlReaderSettings { DtdProcessing = DtdProcessing.Ignore, XmlResolver = null });
            doc = XDocument.Load(reader);
        }
        catch (XmlException ex)
        {
            return new QueryGpuResult(Array.Empty<GpuDevice>(), new[] { $"nvidia-smi -q -x output is not valid XML: {ex.Message}" });
        }
        var gpus = new List<GpuDevice>();
        foreach (var g in doc.Root?.Elements("gpu") ?? Enumerable.Empty<XElement>())
        {
            var unavailable = new List<string>();
            string? T(params string[] paths)
            {
                foreach (var path in paths)
                {
                    var e = path.Split('/').Aggregate((XElement?)g, (cur, name) => cur?.Element(name));
                    if (e is null) continue;
                    var v = e.Value.Trim();
                    if (NvidiaSmiCsv.IsUnknown(v) || v is "Unknown Error" or "Not Supported") { unavailable.Add(path); return null; }
                    return v;
                }
                return null;
            }
            double? N(params string[] paths)
            {
                var t = T(paths);
                return t is not null && double.TryParse(t.Split(' ')[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : null;
            }
            var reasonsNode = g.Element("clocks_event_reasons") ?? g.Element("clocks_throttle_reasons");
            var reasons = reasonsNode?.Elements().Where(e => e.Value.Trim() == "Active")
                .Select(e => e.Name.LocalName.Replace("clocks_event_reason_", "").Replace("clocks_throttle_reason_", ""))
                .Where(n => n != "active").ToArray() ?? Array.Empty<string>();
            var ecc = N("ecc_errors/volatile/dram_uncorrectable", "ecc_errors/volatile/double_bit/total", "ecc_errors/volatile/sram_uncorrectable");
            gpus.Add(new GpuDevice
            {
                Index = gpus.Count,
                Name = T("product_name"),
                Uuid = T("uuid"),
                BusId = g.Attribute("id")?.Value,
                TemperatureC = N("temperature/gpu_temp"),
                GpuUtilization = N("utilization/gpu_util"),
                MemoryUtilization = N("utilization/memory_util"),
                MemoryUsedMiB = N("fb_memory_usage/used"),
                MemoryTotalMiB = N("fb_memory_usage/total"),
                SmClockMHz = N("clocks/sm_clock"),
                SmClockMaxMHz = N("max_clocks/sm_clock"),
                PowerDrawW = N("gpu_power_readings/power_draw", "gpu_power_readings/instant_power_draw", "power_readings/power_draw"),
                PowerLimitW = N("gpu_power_readings/current_power_limit", "gpu_power_readings/enforced_power_limit", "power_readings/power_limit", "power_readings/enforced_power_limit"),
                PState = T("performance_state"),
                UncorrectedEcc = ecc is null ? null : (long)ecc,
                ThrottleReasons = reasons,
                Lost = g.Descendants().Any(e => e.Value.Contains("GPU is lost", StringComparison.OrdinalIgnoreCase)),
                Unavailable = unavailable.ToArray(),
            });
        }
        var problems = new List<string>();
        if (int.TryParse(doc.Root?.Element("attached_gpus")?.Value.Trim(), out var attached) && attached != gpus.Count)
            problems.Add($"nvidia-smi -q -x says {attached} GPUs are attached but lists {gpus.Count}");
        return new QueryGpuResult(gpus, problems);
    }
}
