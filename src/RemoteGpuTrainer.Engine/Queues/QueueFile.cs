using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using RemoteGpuTrainer.Engine.Text;

namespace RemoteGpuTrainer.Engine.Queues;

/// <summary>One cell of a queue: its 1-based number (cells, not lines), name, shell command and cost.</summary>
public sealed record QueueCell(int Index, string Name, string Command, double Cost, int Line);

/// <summary>
/// A queue file: one cell per line, '#' comments and blank lines ignored, CRLF tolerated. Seed form
/// `&lt;config&gt; &lt;task&gt; [epochs] [cost=N]` needs a command template; command form `name: command`
/// (or `name cost=N: command`). Duplicate names, unknown placeholders and malformed lines are
/// errors naming the file and line, raised before anything is sent.
/// </summary>
public static class QueueFile
{
    public static readonly string[] Placeholders = { "config", "task", "epochs", "name", "checkpoint_dir", "log" };
    static readonly Regex PlaceholderRx = new(@"\{([^{}]*)\}", RegexOptions.CultureInvariant);
    static readonly Regex CostRx = new(@"^cost=([0-9]+(?:\.[0-9]+)?)$", RegexOptions.CultureInvariant);

    public static IReadOnlyList<QueueCell> Parse(string text, string fileName, string? commandTemplate)
    {
        if (commandTemplate is not null) ValidateTemplate(commandTemplate, fileName);
        var cells = new List<QueueCell>();
        var lines = text.Replace("\r\n", "\n").Replace('\r', '\n').Split('\n');
        for (int n = 0; n < lines.Length; n++)
        {
            var line = lines[n].Trim();
            if (n == 0) line = line.TrimStart('\uFEFF');
            if (line.Length == 0 || line.StartsWith('#')) continue;
            var lineNo = n + 1;
            var colon = line.IndexOf(": ", StringComparison.Ordinal);
            string name, command;
            double cost = 1;
            if (colon > 0)
            {
                var head = line[..colon].Trim();
                var m = Regex.Match(head, @"^(.*?)\s+cost=([0-9]+(?:\.[0-9]+)?)$");
                if (m.Success) { head = m.Groups[1].Value; cost = double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture); }
                name = head;
                command = line[(colon + 2)..].Trim();
                if (command.Length == 0) throw Error(fileName, lineNo, $"cell '{name}' has no command after ':'");
            }
            else
            {
                if (commandTemplate is null)
                    throw Error(fileName, lineNo, "this is a seed-form line (<config> <task> [epochs]); pass -CommandTemplate, or write it as 'name: command'");
                var words = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).ToList();
                var costWord = words.FirstOrDefault(w => CostRx.IsMatch(w));
                if (costWord is not null) { words.Remove(costWord); cost = double.Parse(CostRx.Match(costWord).Groups[1].Value, CultureInfo.InvariantCulture); }
                if (words.Count is < 2 or > 3) throw Error(fileName, lineNo, $"expected '<config> <task> [epochs]', found {words.Count} field(s)");
                int? epochs = null;
                if (words.Count == 3)
                {
                    if (!int.TryParse(words[2], NumberStyles.None, CultureInfo.InvariantCulture, out var e) || e <= 0)
                        throw Error(fileName, lineNo, $"epochs '{words[2]}' is not a positive whole number");
                    epochs = e;
                    if (costWord is null) cost = e;
                }
                var config = words[0];
                name = Path.GetFileNameWithoutExtension(config.Replace('\\', '/').Split('/').Last());
                command = Expand(commandTemplate, config, words[1], epochs, name);
            }
            ValidateName(name, fileName, lineNo);
            if (cells.Any(c => c.Name == name))
                throw Error(fileName, lineNo, $"cell name '{name}' is used twice (first on line {cells.First(c => c.Name == name).Line}); two cells writing one output directory destroy each other");
            cells.Add(new QueueCell(cells.Count + 1, name, command, cost, lineNo));
        }
        if (cells.Count == 0) throw Error(fileName, lines.Length, "the queue has no cells");
        return cells;
    }

    static void ValidateTemplate(string template, string fileName)
    {
        foreach (Match m in PlaceholderRx.Matches(template))
            if (!Placeholders.Contains(m.Groups[1].Value))
                throw new RgtException("QueueFileInvalid", FailureKind.InvalidArgument,
                    $"-CommandTemplate for {fileName} uses the unknown placeholder {{{m.Groups[1].Value}}}; known: {string.Join(" ", Placeholders.Select(p => "{" + p + "}"))}.");
    }

    /// <summary>Placeholders become quoted words; the runtime paths stay shell variables the launcher sets.</summary>
    static string Expand(string template, string config, string task, int? epochs, string name) =>
        PlaceholderRx.Replace(template, m => m.Groups[1].Value switch
        {
            "config" => ShellQuote.Quote(config),
            "task" => ShellQuote.Quote(task),
            "epochs" => epochs?.ToString(CultureInfo.InvariantCulture) ?? "''",
            "name" => ShellQuote.Quote(name),
            "checkpoint_dir" => "\"$RGT_CHECKPOINT_DIR\"",
            "log" => "\"$RGT_LOG\"",
            _ => m.Value,
        });

    static void ValidateName(string name, string fileName, int line)
    {
        if (name.Length == 0 || name.Length > 120 || name is "." or ".." || name.Contains('/') || name.Contains('\\') || name.Any(char.IsControl))
            throw Error(fileName, line, $"'{Hosts.ConnectionString.Printable(name)}' is not a usable cell name (1-120 characters, no '/', '\\' or control characters, not '.' or '..')");
    }

    static RgtException Error(string file, int line, string why) =>
        new("QueueFileInvalid", FailureKind.InvalidData, $"{file}, line {line}: {why}. Nothing was sent to any host.");

    /// <summary>
    /// A re-launch may append lines but never reorder or edit earlier ones: the cell at an index keeps
    /// its name and command. Returns null when compatible, else a description of the first difference.
    /// </summary>
    public static string? CompareWithFrozen(IReadOnlyList<QueueCell> frozen, IReadOnlyList<QueueCell> current)
    {
        for (int i = 0; i < frozen.Count; i++)
        {
            if (i >= current.Count) return $"cell {i + 1} ('{frozen[i].Name}') was removed";
            if (frozen[i].Name != current[i].Name || frozen[i].Command != current[i].Command)
                return $"cell {i + 1} changed: it was '{frozen[i].Name}: {frozen[i].Command}' and is now '{current[i].Name}: {current[i].Command}' (line {current[i].Line})";
        }
        return null;
    }

    /// <summary>The frozen form stored on the box: command-form lines, one per cell, so later reads need no template.</summary>
    public static string Freeze(IReadOnlyList<QueueCell> cells)
    {
        var sb = new StringBuilder("# frozen by RemoteGpuTrainer; one 'name cost=N: command' per cell\n");
        foreach (var c in cells)
            sb.Append(c.Name).Append(" cost=").Append(c.Cost.ToString(CultureInfo.InvariantCulture)).Append(": ").Append(c.Command.Replace("\n", " ")).Append('\n');
        return sb.ToString();
    }

    /// <summary>
    /// Splits cells across hosts so they finish together: longest-processing-time first onto the
    /// least-loaded host, ties to the earlier host; each host keeps queue order. Deterministic, so
    /// the same queue over the same hosts splits the same way again on resume.
    /// </summary>
    public static IReadOnlyList<List<QueueCell>> Split(IReadOnlyList<QueueCell> cells, int hosts)
    {
        var buckets = Enumerable.Range(0, hosts).Select(_ => new List<QueueCell>()).ToList();
        var load = new double[hosts];
        foreach (var c in cells.OrderByDescending(c => c.Cost).ThenBy(c => c.Index))
        {
            int best = 0;
            for (int h = 1; h < hosts; h++) if (load[h] < load[best]) best = h;
            buckets[best].Add(c);
            load[best] += c.Cost;
        }
        foreach (var b in buckets) b.Sort((a, b2) => a.Index.CompareTo(b2.Index));
        return buckets;
    }
}
