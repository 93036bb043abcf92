using System.Text.RegularExpressions;

namespace RemoteGpuTrainer.Engine.Parsing;

/// <summary>One row of `nvidia-smi dmon` or `pmon`: column name → value ("-" becomes null).</summary>
public sealed record MonitorRow(IReadOnlyDictionary<string, string?> Values);

/// <summary>A GPU or MIG device from `nvidia-smi -L`.</summary>
public sealed record ListedDevice(string Kind, int Index, string Name, string Uuid, int? ParentGpu);

/// <summary>The smaller nvidia-smi outputs: dmon/pmon tables, -L, --version, --help-query-gpu.</summary>
public static class NvidiaSmiMisc
{
    /// <summary>dmon and pmon: "# name …" header, "# unit …" line, then right-aligned rows.</summary>
    public static IReadOnlyList<MonitorRow> ParseMonitor(string text)
    {
        string[]? header = null;
        var rows = new List<MonitorRow>();
        foreach (var raw in text.Replace("\r\n", "\n").Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0) continue;
            if (line.StartsWith('#'))
            {
                header ??= line.TrimStart('#').Split(' ', StringSplitOptions.RemoveEmptyEntries);
                continue;
            }
            if (header is null) continue;
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            // pmon's last column (command name) may be missing or hold spaces
            var values = new Dictionary<string, string?>(StringComparer.Ordinal);
            for (int i = 0; i < header.Length; i++)
            {
                string? v = i < f.Length ? (i == header.Length - 1 ? string.Join(' ', f.Skip(i)) : f[i]) : null;
                values[header[i]] = v == "-" ? null : v;
            }
            rows.Add(new MonitorRow(values));
        }
        return rows;
    }

    static readonly Regex GpuLine = new(@"^GPU (\d+): (.+?) \(UUID: (GPU-[^)]+)\)\s*$", RegexOptions.CultureInvariant);
    static readonly Regex MigLine = new(@"^\s+MIG (\S+)\s+Device\s+(\d+): \(UUID: (MIG-[^)]+)\)\s*$", RegexOptions.CultureInvariant);

    public static IReadOnlyList<ListedDevice> ParseList(string text)
    {
        var list = new List<ListedDevice>();
        int? parent = null;
        foreach (var line in text.Replace("\r\n", "\n").Split('\n'))
        {
            var g = GpuLine.Match(line);
            if (g.Success)
            {
                parent = int.Parse(g.Groups[1].Value);
                list.Add(new ListedDevice("GPU", parent.Value, g.Groups[2].Value, g.Groups[3].Value, null));
                continue;
            }
            var m = MigLine.Match(line);
            if (m.Success) list.Add(new ListedDevice("MIG", int.Parse(m.Groups[2].Value), m.Groups[1].Value, m.Groups[3].Value, parent));
        }
        return list;
    }

    /// <summary>"Key : Value" lines of --version (610+ says DRIVER version is deprecated in favour of KMD version).</summary>
    public static IReadOnlyDictionary<string, string> ParseVersion(string text)
    {
        var map = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in text.Split('\n'))
        {
            var i = line.IndexOf(':');
            if (i > 0) map[line[..i].Trim()] = line[(i + 1)..].Trim();
        }
        return map;
    }

    /// <summary>The field names (and aliases) a driver's --help-query-gpu documents.</summary>
    public static IReadOnlySet<string> ParseQueryHelp(string text)
    {
        var fields = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
            if (line.StartsWith('"'))
                foreach (Match m in Regex.Matches(line, "\"([a-z0-9_.]+)\""))
                    fields.Add(m.Groups[1].Value);
        return fields;
    }
}
