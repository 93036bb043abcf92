using System.Text;
using System.Text.Json;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Parsing;
using RemoteGpuTrainer.Engine.Ssh;

namespace RemoteGpuTrainer.Engine.Monitoring;

/// <summary>
/// The samples pulled so far, per host, in the config directory (metrics/&lt;host&gt;/): the raw
/// lines, and where the last read ended on the box, so the next read asks only for newer bytes.
/// </summary>
public static class MetricStore
{
    /// <summary>The local copy keeps about this much; older lines go first.</summary>
    const long MaxLocalBytes = 32L << 20;

    static string Dir(string host) =>
        Path.Combine(ConfigPaths.ConfigDirectory, "metrics", string.Concat(host.Select(c => char.IsLetterOrDigit(c) || c is '-' or '.' or '_' ? c : '_')));

    sealed record CursorFile(string File, long Offset);

    public static MetricCursor Cursor(string host)
    {
        var path = Path.Combine(Dir(host), "cursor.json");
        if (!File.Exists(path)) return MetricCursor.Start;
        try
        {
            var c = JsonSerializer.Deserialize<CursorFile>(File.ReadAllText(path));
            return c is null ? MetricCursor.Start : new MetricCursor(c.File, c.Offset);
        }
        catch (JsonException)
        {
            // An unreadable cursor costs a full read again, never lost lines.
            return MetricCursor.Start;
        }
    }

    /// <summary>
    /// Takes monitor.sh's read output: appends the new whole lines to the local copy and moves the
    /// cursor past them. Returns how many lines were new.
    /// </summary>
    public static int Append(GpuHost host, CommandOutput output)
    {
        var (cursor, lines) = ParseRead(MonitorScripts.Section(host, output, "reading the samples"), Cursor(host.Name));
        var dir = Dir(host.Name);
        Directory.CreateDirectory(dir);
        var samples = Path.Combine(dir, "samples.csv");
        using (FileLock.Acquire(samples, TimeSpan.FromSeconds(30)))
        {
            if (lines.Count > 0) File.AppendAllLines(samples, lines, new UTF8Encoding(false));
            Trim(samples);
            var tmp = Path.Combine(dir, "cursor.json.tmp");
            File.WriteAllText(tmp, JsonSerializer.Serialize(new CursorFile(cursor.File, cursor.Offset)));
            File.Move(tmp, Path.Combine(dir, "cursor.json"), overwrite: true);
        }
        return lines.Count;
    }

    /// <summary>monitor.sh read's section: the new lines, and the cursor after them (unchanged when nothing was read).</summary>
    internal static (MetricCursor Cursor, List<string> Lines) ParseRead(string section, MetricCursor cursor)
    {
        var lines = new List<string>();
        foreach (var line in section.Split('\n'))
        {
            if (line.StartsWith("file\t", StringComparison.Ordinal))
            {
                var f = line.Split('\t');
                if (f.Length == 4 && long.TryParse(f[2], out var from) && long.TryParse(f[3], out var bytes)) cursor = new MetricCursor(f[1], from + bytes);
            }
            else if (line.Length > 0) lines.Add(line);
        }
        return (cursor, lines);
    }

    /// <summary>The samples pulled so far, oldest first, from <paramref name="since"/> on.</summary>
    public static List<GpuMetricSample> Samples(string host, DateTimeOffset? since)
    {
        var path = Path.Combine(Dir(host), "samples.csv");
        if (!File.Exists(path)) return new List<GpuMetricSample>();
        var all = MetricLine.ParseAll(host, File.ReadLines(path));
        return since is null ? all : all.Where(s => s.Time >= since).ToList();
    }

    static void Trim(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists || info.Length <= MaxLocalBytes) return;
        // Keep the newest half: skip lines from the start until what is left fits.
        var lines = File.ReadAllLines(path);
        long bytes = lines.Sum(l => (long)l.Length + 1);
        var skip = 0;
        while (skip < lines.Length && bytes > MaxLocalBytes / 2) bytes -= lines[skip++].Length + 1;
        var keep = lines.Skip(skip);
        var tmp = path + ".tmp";
        File.WriteAllLines(tmp, keep, new UTF8Encoding(false));
        File.Move(tmp, path, overwrite: true);
    }
}
