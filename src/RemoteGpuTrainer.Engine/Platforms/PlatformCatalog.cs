using System.Globalization;
using System.Text.RegularExpressions;
using RemoteGpuTrainer.Engine.Model;
using YamlDotNet.Core;
using YamlDotNet.Serialization;

namespace RemoteGpuTrainer.Engine.Platforms;

/// <summary>
/// The platform catalog: one YAML profile per platform from the module's platforms folder, then
/// any user profiles from the config directory's platforms folder (same name = override).
/// </summary>
public sealed class PlatformCatalog
{
    readonly Dictionary<string, GpuPlatform> _byName;

    PlatformCatalog(Dictionary<string, GpuPlatform> byName) => _byName = byName;

    public IReadOnlyCollection<GpuPlatform> All => _byName.Values.OrderBy(p => p.Name, StringComparer.Ordinal).ToList();

    public GpuPlatform? Find(string name) => _byName.TryGetValue(name, out var p) ? p : null;

    public GpuPlatform Get(string name) => Find(name) ?? throw new RgtException("PlatformUnknown", FailureKind.NotFound,
        $"There is no platform '{name}'. Known platforms: {string.Join(", ", _byName.Keys.OrderBy(k => k))}.");

    /// <summary>The platform whose host patterns match <paramref name="hostName"/>, else generic-ssh.</summary>
    public GpuPlatform GuessFromHostName(string hostName)
    {
        foreach (var p in All)
            if (p.HostPatterns.Any(pattern => Glob.IsMatch(hostName, pattern))) return p;
        return Get("generic-ssh");
    }

    public static PlatformCatalog Load(params string?[] directories)
    {
        var map = new Dictionary<string, GpuPlatform>(StringComparer.OrdinalIgnoreCase);
        foreach (var dir in directories)
        {
            if (string.IsNullOrEmpty(dir) || !Directory.Exists(dir)) continue;
            foreach (var file in Directory.EnumerateFiles(dir, "*.yml").Order(StringComparer.Ordinal))
            {
                var p = LoadFile(file);
                map[p.Name] = p;
            }
        }
        if (!map.ContainsKey("generic-ssh"))
            throw new RgtException("PlatformCatalogMissing", FailureKind.NotFound,
                $"The platform catalog was not found (looked in: {string.Join(", ", directories.Where(d => d is not null))}). Reinstall the module.");
        return new PlatformCatalog(map);
    }

    static GpuPlatform LoadFile(string file)
    {
        object? root;
        try
        {
            root = new DeserializerBuilder().Build().Deserialize<object?>(File.ReadAllText(file));
        }
        catch (YamlException ex)
        {
            throw new RgtException("PlatformProfileMalformed", FailureKind.InvalidData,
                $"The platform profile {file} is not valid YAML at line {ex.Start.Line}, column {ex.Start.Column}: {ex.Message}", ex);
        }
        var facts = Normalize(root) as Dictionary<string, object?> ?? throw new RgtException("PlatformProfileMalformed", FailureKind.InvalidData,
            $"The platform profile {file} is not a YAML mapping.");
        var rgt = facts.GetValueOrDefault("rgt") as Dictionary<string, object?> ?? new();
        string? S(IReadOnlyDictionary<string, object?> d, string key) => d.GetValueOrDefault(key) switch
        {
            null => null,
            string s => s,
            Dictionary<string, object?> m => string.Join("; ", m.Select(kv => $"{kv.Key}: {kv.Value}")),
            var o => o.ToString(),
        };
        var name = S(rgt, "name") ?? S(facts, "platform") ?? Path.GetFileNameWithoutExtension(file);
        return new GpuPlatform
        {
            Name = name,
            DisplayName = S(facts, "display_name") ?? name,
            Kind = S(facts, "kind"),
            MeterStopVerb = S(facts, "meter_stop_verb"),
            MeterStopIrreversible = Bool(facts.GetValueOrDefault("meter_stop_irreversible")),
            DestructiveVerb = S(facts, "destructive_verb"),
            StopKeepsBilling = S(facts, "stop_keeps_billing"),
            DetachPrimitive = S(facts, "detach_primitive"),
            DetachFallback = S(facts, "detach_fallback"),
            TmuxPreinstalled = Bool(facts.GetValueOrDefault("tmux_preinstalled")),
            SpotAvailable = Bool(facts.GetValueOrDefault("spot_available")),
            SpotGraceSeconds = int.TryParse(S(facts, "spot_grace_seconds"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var g) ? g : null,
            ChinaMirrorNeeded = Bool(facts.GetValueOrDefault("china_mirror_needed")),
            ConnectionStringShape = S(facts, "connection_string_shape"),
            HostPatterns = List(rgt.GetValueOrDefault("host_patterns")).Select(o => o?.ToString() ?? "").Where(s => s.Length > 0).ToArray(),
            DataDir = S(rgt, "data_dir"),
            DurableDir = S(rgt, "durable_dir"),
            PathNote = S(rgt, "durable_note") ?? S(rgt, "data_note"),
            ProxyHook = S(rgt, "proxy_hook"),
            CredFile = S(rgt, "cred_file"),
            Scratch = S(rgt, "scratch"),
            Keep = S(rgt, "keep"),
            TeardownRule = S(facts, "teardown_rule"),
            DefaultImage = S(rgt, "default_image") is { Length: > 0 } image ? image : null,
            SshUser = S(rgt, "ssh_user"),
            Regions = List(rgt.GetValueOrDefault("regions")).Select(o => o?.ToString() ?? "").Where(s => s.Length > 0).ToArray(),
            PriceTable = List(rgt.GetValueOrDefault("price_table")).OfType<Dictionary<string, object?>>().Select(d => new GpuMachinePrice(
                S(d, "machine_type") ?? "", S(d, "gpu") ?? "", int.TryParse(S(d, "gpus"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : 1,
                double.TryParse(S(d, "memory_gb"), NumberStyles.Float, CultureInfo.InvariantCulture, out var m) ? m : null,
                decimal.TryParse(S(d, "usd_per_hour"), NumberStyles.Float, CultureInfo.InvariantCulture, out var price) ? price
                    : throw new RgtException("PlatformProfileMalformed", FailureKind.InvalidData, $"The platform profile {file}: price_table entry '{S(d, "machine_type")}' has no usd_per_hour.")))
                .ToArray(),
            SbatchOptions = List(rgt.GetValueOrDefault("sbatch_options")).Select(o => o?.ToString() ?? "").Where(s => s.Length > 0).ToArray(),
            Storage = List(facts.GetValueOrDefault("storage")).OfType<Dictionary<string, object?>>()
                .Select(d => new GpuStorageTier(S(d, "name") ?? "", S(d, "path"), S(d, "survives_stop"), S(d, "survives_destroy"), S(d, "cap"), S(d, "notes"))).ToArray(),
            DangerClocks = List(facts.GetValueOrDefault("danger_clocks")).OfType<Dictionary<string, object?>>()
                .Select(d => new GpuDangerClock(S(d, "what") ?? "", S(d, "after"), S(d, "consequence"))).ToArray(),
            Notices = List(facts.GetValueOrDefault("surface_to_user")).Select(o => o?.ToString() ?? "").Where(s => s.Length > 0).ToArray(),
            Gotchas = List(facts.GetValueOrDefault("top_gotchas")).OfType<Dictionary<string, object?>>()
                .Select(d => new GpuGotcha(S(d, "id") ?? "", S(d, "symptom") ?? "", S(d, "fix") ?? "")).ToArray(),
            Verified = (facts.GetValueOrDefault("verified") as Dictionary<string, object?> ?? new())
                .ToDictionary(kv => kv.Key, kv => kv.Value?.ToString() ?? "", StringComparer.Ordinal),
            Facts = facts,
            SourceFile = file,
        };
    }

    static IEnumerable<object?> List(object? o) => o as List<object?> ?? Enumerable.Empty<object?>();

    static bool? Bool(object? o) => o?.ToString()?.ToLowerInvariant() switch { "true" => true, "false" => false, _ => null };

    /// <summary>Turns YamlDotNet's object graph into string-keyed dictionaries and lists; "null" and "~" become null.</summary>
    static object? Normalize(object? o) => o switch
    {
        IDictionary<object, object> d => d.ToDictionary(kv => kv.Key.ToString()!, kv => Normalize(kv.Value)),
        IList<object> l => l.Select(Normalize).ToList(),
        string s when s is "null" or "~" => null,
        _ => o,
    };
}

/// <summary>OpenSSH-style patterns: * and ?; case-insensitive.</summary>
public static class Glob
{
    public static bool IsMatch(string text, string pattern) =>
        Regex.IsMatch(text, "^" + Regex.Escape(pattern).Replace("\\*", ".*").Replace("\\?", ".") + "$",
            RegexOptions.IgnoreCase | RegexOptions.CultureInvariant | RegexOptions.Singleline);
}
