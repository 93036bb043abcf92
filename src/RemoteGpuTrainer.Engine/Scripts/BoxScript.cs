using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using RemoteGpuTrainer.Engine.Text;

namespace RemoteGpuTrainer.Engine.Scripts;

/// <summary>
/// A script that runs on the box: one or more embedded .sh files of Scripts/, run by bash. The
/// parameters are set at the top as NAME='value' through <see cref="ShellQuote.Quote"/> (the one
/// quoting function) and list arguments as <c>set -- '…' '…'</c>. What else a file needs it says in its
/// own header, so a script is composed the same way wherever it is built (and by the lint):
/// <c># uses: hash slurm</c> names the libraries put before it (theirs first), and <c># standalone</c>
/// marks a file that becomes a file of its own on the box (a launcher, the sampler): it keeps its
/// shebang and gets no prelude. Every other script starts with the prelude, rgt.sh (the helpers and
/// the exit-status table) and wire.sh (the wire format). Parameter names are upper case, which
/// shellcheck treats as set elsewhere.
/// </summary>
public sealed class BoxScript
{
    static readonly Regex ParameterName = new("^[A-Z_][A-Z0-9_]*$", RegexOptions.CultureInvariant);
    static readonly string[] Prelude = { "rgt", "wire" };
    readonly string[] _files;
    readonly List<(string Name, string Value)> _parameters = new();
    List<string>? _arguments;

    BoxScript(string[] files) => _files = files;

    /// <summary>The scripts, run one after the other in one bash (they share the parameters).</summary>
    public static BoxScript Load(params string[] files)
    {
        foreach (var f in files) _ = Read(f);
        return new BoxScript(files);
    }

    public BoxScript Set(string name, string? value)
    {
        if (!ParameterName.IsMatch(name)) throw new ArgumentException($"'{name}' is not an upper-case shell parameter name.", nameof(name));
        _parameters.RemoveAll(p => p.Name == name);
        _parameters.Add((name, ShellQuote.Quote(value ?? "")));
        return this;
    }

    public BoxScript Set(string name, long value) => Set(name, value.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>The positional parameters ($@) the script starts with.</summary>
    public BoxScript Arguments(IEnumerable<string> arguments)
    {
        _arguments = arguments.ToList();
        return this;
    }

    /// <summary>Whether the first file runs on its own, without the prelude (its header says "# standalone").</summary>
    public bool IsStandalone => Read(_files[0]).Standalone;

    /// <summary>The library files put before the script's own, in order: the prelude (unless standalone), then what each file uses, theirs first.</summary>
    public IReadOnlyList<string> Libraries
    {
        get
        {
            var order = new List<string>();
            void Add(string file)
            {
                if (order.Contains(file) || _files.Contains(file)) return;
                foreach (var used in Read(file).Uses) Add(used);
                order.Add(file);
            }
            if (!IsStandalone) foreach (var p in Prelude) Add(p);
            foreach (var f in _files) foreach (var used in Read(f).Uses) Add(used);
            return order;
        }
    }

    /// <summary>The whole script as bash reads it.</summary>
    public string Text
    {
        get
        {
            var sb = new StringBuilder();
            // A standalone script becomes a file of its own on the box: it keeps its own shebang line.
            if (IsStandalone) sb.Append(Read(_files[0]).Shebang ?? throw new InvalidOperationException($"The box script {_files[0]}.sh has no #! line; a standalone script needs one."));
            foreach (var l in Libraries) sb.Append(Body(l));
            foreach (var (name, value) in _parameters) sb.Append(name).Append('=').Append(value).Append('\n');
            if (_arguments is not null) sb.Append("set --").Append(string.Concat(_arguments.Select(a => " " + ShellQuote.Quote(a)))).Append('\n');
            foreach (var f in _files) sb.Append(Body(f));
            return sb.ToString();
        }
    }

    /// <summary>The command line for an SSH exec channel (or local bash): bash runs the script whatever the login shell is.</summary>
    public string Command => "exec bash -c " + ShellQuote.Quote(Text) + " rgt-" + _files[0];

    public override string ToString() => Command;

    /// <summary>The text of an embedded script without its shebang line.</summary>
    internal static string Body(string file) => Read(file).Body;

    sealed record Source(string Body, string? Shebang, IReadOnlyList<string> Uses, bool Standalone);

    static readonly Dictionary<string, Source> Cache = new(StringComparer.Ordinal);
    static readonly Regex UsesLine = new(@"^# uses: *([a-z0-9 -]+?) *$", RegexOptions.CultureInvariant | RegexOptions.Multiline);

    static Source Read(string file)
    {
        lock (Cache)
        {
            if (Cache.TryGetValue(file, out var cached)) return cached;
            var resource = $"RemoteGpuTrainer.Engine.Scripts.{file}.sh";
            using var stream = typeof(BoxScript).Assembly.GetManifestResourceStream(resource)
                ?? throw new InvalidOperationException($"The box script {file}.sh is not embedded in {typeof(BoxScript).Assembly.GetName().Name}.");
            using var reader = new StreamReader(stream, Encoding.UTF8);
            var text = reader.ReadToEnd().Replace("\r\n", "\n");
            string? shebang = null;
            if (text.StartsWith("#!", StringComparison.Ordinal))
            {
                shebang = text[..(text.IndexOf('\n') + 1)];
                text = text[shebang.Length..];
            }
            if (!text.EndsWith('\n')) text += "\n";
            // The header: the comment lines before the first command.
            var header = string.Concat(text.Split('\n').TakeWhile(l => l.StartsWith('#')).Select(l => l + "\n"));
            var uses = UsesLine.Match(header) is { Success: true } m ? m.Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries) : Array.Empty<string>();
            var standalone = header.Split('\n').Any(l => l == "# standalone" || l.StartsWith("# standalone:", StringComparison.Ordinal));
            return Cache[file] = new Source(text, shebang, uses, standalone);
        }
    }

    /// <summary>Names of every embedded script (for tests).</summary>
    public static IEnumerable<string> Embedded() =>
        typeof(BoxScript).Assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith("RemoteGpuTrainer.Engine.Scripts.", StringComparison.Ordinal) && n.EndsWith(".sh", StringComparison.Ordinal))
            .Select(n => n["RemoteGpuTrainer.Engine.Scripts.".Length..^3]);
}
