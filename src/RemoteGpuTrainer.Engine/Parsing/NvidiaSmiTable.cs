using System.Text.RegularExpressions;

namespace RemoteGpuTrainer.Engine.Parsing;

/// <summary>The header facts and GPU list of plain `nvidia-smi` output (old narrow and new wide layouts).</summary>
public sealed record NvidiaSmiSummary(string? Driver, string? CudaVersion, IReadOnlyList<string> GpuNames, bool MigEnabled);

public static class NvidiaSmiTable
{
    static readonly Regex DriverRx = new(@"(?:Driver|KMD) Version:\s*([0-9][0-9.]*)", RegexOptions.CultureInvariant);
    static readonly Regex CudaRx = new(@"CUDA (?:UMD )?Version:\s*([0-9][0-9.]*)", RegexOptions.CultureInvariant);
    // "|   0  NVIDIA H100 80GB HBM3          On  |   00000000:19:00.0 Off |" (also "Off", "WDDM", "TCC" in the 3rd column)
    static readonly Regex GpuRowRx = new(@"^\|\s+(\d+)\s+(.+?)\s+(On|Off|WDDM|TCC|N/A)\s+\|\s+[0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.\d", RegexOptions.CultureInvariant);

    /// <summary>
    /// Parses the table. Returns null when the text is not an nvidia-smi table (for example the
    /// "couldn't communicate with the NVIDIA driver" failure).
    /// </summary>
    public static NvidiaSmiSummary? Parse(string text)
    {
        var driver = DriverRx.Match(text);
        if (!driver.Success) return null;
        var names = new List<string>();
        bool mig = text.Contains("MIG devices:", StringComparison.Ordinal);
        foreach (var line in text.Replace("\r\n", "\n").Split('\n'))
        {
            if (line.Contains("MIG devices:", StringComparison.Ordinal) || line.Contains("Processes:", StringComparison.Ordinal)) break;
            var m = GpuRowRx.Match(line);
            if (m.Success) names.Add(m.Groups[2].Value.Trim());
        }
        var cuda = CudaRx.Match(text);
        return new NvidiaSmiSummary(driver.Success ? driver.Groups[1].Value : null, cuda.Success ? cuda.Groups[1].Value : null, names, mig);
    }
}
