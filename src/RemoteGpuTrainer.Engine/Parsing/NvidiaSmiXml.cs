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
            var f = new FieldReader(path => path.Split('/').Aggregate((XElement?)g, (cur, name) => cur?.Element(name))?.Value.Trim());
            var reasonsNode = g.Element("clocks_event_reasons") ?? g.Element("clocks_throttle_reasons");
            var reasons = reasonsNode?.Elements().Where(e => e.Value.Trim() == "Active")
                .Select(e => e.Name.LocalName.Replace("clocks_event_reason_", "").Replace("clocks_throttle_reason_", ""))
                .Where(n => n != "active").ToArray() ?? Array.Empty<string>();
            var ecc = f.Num("ecc_errors/volatile/dram_uncorrectable", "ecc_errors/volatile/double_bit/total", "ecc_errors/volatile/sram_uncorrectable");
            gpus.Add(new GpuDevice
            {
                Index = gpus.Count,
                Name = f.Text("product_name"),
                Uuid = f.Text("uuid"),
                BusId = g.Attribute("id")?.Value,
                TemperatureC = f.Num("temperature/gpu_temp"),
                GpuUtilization = f.Num("utilization/gpu_util"),
                MemoryUtilization = f.Num("utilization/memory_util"),
                MemoryUsedMiB = f.Num("fb_memory_usage/used"),
                MemoryTotalMiB = f.Num("fb_memory_usage/total"),
                SmClockMHz = f.Num("clocks/sm_clock"),
                SmClockMaxMHz = f.Num("max_clocks/sm_clock"),
                PowerDrawW = f.Num("gpu_power_readings/power_draw", "gpu_power_readings/instant_power_draw", "power_readings/power_draw"),
                PowerLimitW = f.Num("gpu_power_readings/current_power_limit", "gpu_power_readings/enforced_power_limit", "power_readings/power_limit", "power_readings/enforced_power_limit"),
                PState = f.Text("performance_state"),
                UncorrectedEcc = ecc is null ? null : (long)ecc,
                ThrottleReasons = reasons,
                Lost = g.Descendants().Any(e => e.Value.Contains("GPU is lost", StringComparison.OrdinalIgnoreCase)),
                Unavailable = f.Unavailable.ToArray(),
            });
        }
        var problems = new List<string>();
        if (int.TryParse(doc.Root?.Element("attached_gpus")?.Value.Trim(), out var attached) && attached != gpus.Count)
            problems.Add($"nvidia-smi -q -x says {attached} GPUs are attached but lists {gpus.Count}");
        return new QueryGpuResult(gpus, problems);
    }
}
