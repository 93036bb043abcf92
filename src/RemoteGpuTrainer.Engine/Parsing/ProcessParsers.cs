using System.Globalization;
using System.Text.RegularExpressions;

namespace RemoteGpuTrainer.Engine.Parsing;

/// <summary>A process from `ps -eo pid=,etimes=,user:32=,lstart=,args=`.</summary>
public sealed record ProcessInfo(int Pid, long AgeSeconds, string User, string StartTime, string Command);

/// <summary>A compute app from `nvidia-smi --query-compute-apps=pid,process_name,gpu_uuid,used_memory`.</summary>
public sealed record ComputeApp(int Pid, string ProcessName, string? GpuUuid, double? UsedMemoryMiB);

public static class ProcessParsers
{
    static readonly Regex PsLine = new(@"^\s*(\d+)\s+(\d+)\s+(\S+)\s+(\w{3}\s+\w{3}\s+\d+\s+\d\d:\d\d:\d\d\s+\d{4})\s?(.*)$", RegexOptions.CultureInvariant);

    public static IReadOnlyDictionary<int, ProcessInfo> ParsePs(string text)
    {
        var map = new Dictionary<int, ProcessInfo>();
        foreach (var line in text.Split('\n'))
        {
            var m = PsLine.Match(line.TrimEnd());
            if (!m.Success) continue;
            var pid = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            map[pid] = new ProcessInfo(pid, long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture), m.Groups[3].Value,
                Regex.Replace(m.Groups[4].Value, @"\s+", " "), m.Groups[5].Value);
        }
        return map;
    }

    /// <summary>CSV with or without header; "No running processes found" and an empty body mean none.</summary>
    public static IReadOnlyList<ComputeApp> ParseComputeApps(string text)
    {
        var apps = new List<ComputeApp>();
        var lines = text.Replace("\r\n", "\n").Split('\n').Where(l => l.Trim().Length > 0).ToList();
        if (lines.Count == 0) return apps;
        var header = lines[0].Contains("pid", StringComparison.Ordinal)
            ? lines[0].Split(',').Select(h => NvidiaSmiCsv.NormalizeField(h)).ToList()
            : new List<string> { "pid", "process_name", "gpu_uuid", "used_memory" };
        foreach (var line in lines.Skip(header.Count > 0 && lines[0].Contains("pid", StringComparison.Ordinal) ? 1 : 0))
        {
            var f = line.Split(',').Select(v => v.Trim()).ToList();
            if (f.Count != header.Count) continue;
            var row = header.Zip(f).ToDictionary(p => p.First, p => p.Second);
            if (!row.TryGetValue("pid", out var pidText) || !int.TryParse(pidText, NumberStyles.None, CultureInfo.InvariantCulture, out var pid)) continue;
            double? mem = (row.TryGetValue("used_memory", out var m) || row.TryGetValue("used_gpu_memory", out m)) && double.TryParse(m.Split(' ')[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : null;
            apps.Add(new ComputeApp(pid, row.GetValueOrDefault("process_name") ?? "", row.GetValueOrDefault("gpu_uuid"), mem));
        }
        return apps;
    }

    /// <summary>
    /// Device-file holders as pid → files, from any of: `fuser -v FILES 2>&1`, `lsof -F pn FILES`,
    /// or `ls -l /proc/[0-9]*/fd` (the probe says which it used on the first line).
    /// </summary>
    public static IReadOnlyDictionary<int, List<string>> ParseHolders(string text, IReadOnlyCollection<string> files)
    {
        var result = new Dictionary<int, List<string>>();
        void Add(int pid, string file)
        {
            if (!result.TryGetValue(pid, out var l)) result[pid] = l = new List<string>();
            if (!l.Contains(file)) l.Add(file);
        }
        var lines = text.Replace("\r\n", "\n").Split('\n');
        var method = lines.Length > 0 ? lines[0].Trim() : "";
        string? current = null;
        foreach (var raw in lines.Skip(1))
        {
            var line = raw.TrimEnd();
            if (line.Length == 0) continue;
            switch (method)
            {
                case "fuser":
                {
                    // "/dev/nvidia0:        root       1234 F.... python" then "  root  5678 F.... python"
                    // a long path stands alone on its line ("/path/nvidia0:") with its holders below
                    var m = Regex.Match(line, @"^(?<file>\S.*?):(?:\s+(?<rest>.*))?$");
                    var rest = line;
                    if (m.Success && files.Contains(m.Groups["file"].Value)) { current = m.Groups["file"].Value; rest = m.Groups["rest"].Value; }
                    var p = Regex.Match(rest, @"^\s*(?<user>\S+)\s+(?<pid>\d+)\s+[A-Za-z.]+\s");
                    if (current is not null && p.Success) Add(int.Parse(p.Groups["pid"].Value, CultureInfo.InvariantCulture), current);
                    break;
                }
                case "lsof":
                    if (line.StartsWith('p') && int.TryParse(line[1..], out var lp)) current = lp.ToString(CultureInfo.InvariantCulture);
                    else if (line.StartsWith('n') && current is not null && files.Contains(line[1..])) Add(int.Parse(current, CultureInfo.InvariantCulture), line[1..]);
                    break;
                case "proc":
                {
                    var h = Regex.Match(line, @"^/proc/(\d+)/fd:$");
                    if (h.Success) { current = h.Groups[1].Value; break; }
                    var a = line.LastIndexOf(" -> ", StringComparison.Ordinal);
                    if (a > 0 && current is not null && files.Contains(line[(a + 4)..])) Add(int.Parse(current, CultureInfo.InvariantCulture), line[(a + 4)..]);
                    break;
                }
            }
        }
        return result;
    }
}
