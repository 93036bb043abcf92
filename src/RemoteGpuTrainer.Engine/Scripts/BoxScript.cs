using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using RemoteGpuTrainer.Engine.Text;

namespace RemoteGpuTrainer.Engine.Scripts;

/// <summary>
/// A script that runs on the box: one or more embedded .sh files of Scripts/, run by bash. The
/// parameters are set at the top as NAME='value' through <see cref="ShellQuote.Quote"/> (the one
/// quoting function) and list arguments as <c>set -- '…' '…'</c>; the prelude (wire.sh, the wire
/// format) comes first. Parameter names are upper case, which shellcheck treats as set elsewhere.
/// </summary>
public sealed class BoxScript
{
    static readonly Regex ParameterName = new("^[A-Z_][A-Z0-9_]*$", RegexOptions.CultureInvariant);
    readonly string[] _files;
    readonly List<(string Name, string Value)> _parameters = new();
    readonly List<string> _libraries = new();
    List<string>? _arguments;
    bool _standalone;

    BoxScript(string[] files) => _files = files;

    /// <summary>The scripts, run one after the other in one bash (they share the parameters).</summary>
    public static BoxScript Load(params string[] files)
    {
        foreach (var f in files) _ = Body(f);
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

    /// <summary>Files of shell functions (hash.sh) put before the script's own files, after the prelude.</summary>
    public BoxScript Uses(params string[] libraries)
    {
        foreach (var l in libraries) _ = Body(l);
        _libraries.AddRange(libraries);
        return this;
    }

    /// <summary>Without the wire prelude: a file that runs on its own (a launcher), whose environment the user's commands inherit.</summary>
    public BoxScript Standalone()
    {
        _standalone = true;
        return this;
    }

    /// <summary>The whole script as bash reads it.</summary>
    public string Text
    {
        get
        {
            var sb = new StringBuilder();
            // A standalone script becomes a file of its own on the box: it keeps its own shebang line.
            if (_standalone) sb.Append(Shebang(_files[0]));
            else sb.Append(Body("wire"));
            foreach (var l in _libraries) sb.Append(Body(l));
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

    /// <summary>An embedded script's own "#!" line, for a script that becomes a file of its own.</summary>
    static string Shebang(string file) =>
        Read(file).Shebang ?? throw new InvalidOperationException($"The box script {file}.sh has no #! line; a standalone script needs one.");

    static readonly Dictionary<string, (string Body, string? Shebang)> Cache = new(StringComparer.Ordinal);

    static (string Body, string? Shebang) Read(string file)
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
            return Cache[file] = (text, shebang);
        }
    }

    /// <summary>Names of every embedded script (for tests).</summary>
    public static IEnumerable<string> Embedded() =>
        typeof(BoxScript).Assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith("RemoteGpuTrainer.Engine.Scripts.", StringComparison.Ordinal) && n.EndsWith(".sh", StringComparison.Ordinal))
            .Select(n => n["RemoteGpuTrainer.Engine.Scripts.".Length..^3]);
}
