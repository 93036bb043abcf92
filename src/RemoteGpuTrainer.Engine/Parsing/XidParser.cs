using System.Text.RegularExpressions;
using RemoteGpuTrainer.Engine.Model;

namespace RemoteGpuTrainer.Engine.Parsing;

/// <summary>
/// Finds NVRM Xid lines in kernel log text whatever the timestamp style: dmesg's [seconds],
/// --ctime [Fri Aug 30 11:43:09 2024], --time-format=iso, --decode's "kern  :warn  : " prefix,
/// syslog "Mon DD hh:mm:ss host kernel:" and bare lines.
/// </summary>
public static class XidParser
{
    /// <summary>Xids treated as hardware-class: the GPU or its memory is failing, not the application.</summary>
    public static readonly IReadOnlySet<int> HardwareXids = new HashSet<int> { 48, 62, 64, 74, 79, 92, 94, 95 };

    static readonly Regex XidRx = new(@"^(?<pre>.*?)NVRM: Xid \((?:PCI:)?(?<dev>[^)]+)\): (?<code>\d+)(?:, (?<msg>.*))?$", RegexOptions.CultureInvariant);
    static readonly Regex KernelPrefix = new(@"^(?:kern\s*:\s*\w+\s*:\s*)", RegexOptions.CultureInvariant);
    static readonly Regex SyslogHost = new(@"\s+\S+\s+kernel:\s*(?:\[\s*[\d.]+\])?\s*$", RegexOptions.CultureInvariant);

    public static IReadOnlyList<XidEvent> Parse(string text)
    {
        var events = new List<XidEvent>();
        foreach (var raw in text.Replace("\r\n", "\n").Split('\n'))
        {
            var m = XidRx.Match(raw.TrimEnd());
            if (!m.Success) continue;
            var pre = KernelPrefix.Replace(m.Groups["pre"].Value, "");
            pre = SyslogHost.Replace(pre, "").Trim().Trim('[', ']').Trim();
            var code = int.Parse(m.Groups["code"].Value, System.Globalization.CultureInfo.InvariantCulture);
            var msg = m.Groups["msg"].Success ? StripProcess(m.Groups["msg"].Value) : "";
            events.Add(new XidEvent(code, m.Groups["dev"].Value, pre.Length == 0 ? null : pre, msg, HardwareXids.Contains(code)));
        }
        return events;
    }

    // "pid='<unknown>', name=<unknown>, text" or "pid=1896, text" → "text"
    static string StripProcess(string msg)
    {
        var m = Regex.Match(msg, @"^pid=[^,]*,\s*(?:name=[^,]*,\s*)?(?<rest>.*)$");
        return m.Success ? m.Groups["rest"].Value : msg;
    }
}
