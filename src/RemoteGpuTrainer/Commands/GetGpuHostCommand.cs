using System.Management.Automation;
using RemoteGpuTrainer.Engine;
using RemoteGpuTrainer.Engine.Model;

namespace RemoteGpuTrainer.Commands;

/// <summary>Lists hosts from the local inventory.</summary>
[Cmdlet(VerbsCommon.Get, "GpuHost")]
[OutputType(typeof(GpuHost))]
public sealed class GetGpuHostCommand : RgtCmdlet
{
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(HostNameCompleter))]
    public string[] Name { get; set; } = { "*" };

    [Parameter]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(TagCompleter))]
    public string[]? Tag { get; set; }

    [Parameter]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(PlatformNameCompleter))]
    public string[]? Platform { get; set; }

    protected override void ProcessRecord()
    {
        IReadOnlyList<GpuHost> hosts;
        try { hosts = Inventory.Load(); }
        catch (RgtException ex) { ThrowFailure(ex, Inventory.FilePath); return; }
        var boots = new Engine.Hosts.BootTimes().Read();
        hosts = hosts.Select(h => boots.TryGetValue(h.Name, out var b) ? h with { BootedAt = b } : h).ToList();
        var tagPatterns = Tag?.Select(t => new WildcardPattern(t, WildcardOptions.IgnoreCase)).ToList();
        var platformPatterns = Platform?.Select(p => new WildcardPattern(p, WildcardOptions.IgnoreCase)).ToList();
        foreach (var n in Name)
        {
            var pattern = new WildcardPattern(n, WildcardOptions.IgnoreCase);
            var matches = hosts.Where(h => pattern.IsMatch(h.Name)
                && (tagPatterns is null || h.Tags.Any(t => tagPatterns.Any(p => p.IsMatch(t))))
                && (platformPatterns is null || platformPatterns.Any(p => p.IsMatch(h.Platform)))).ToList();
            if (matches.Count == 0 && !WildcardPattern.ContainsWildcardCharacters(n))
                WriteFailure(new RgtException("HostNotFound", FailureKind.NotFound, $"No host named '{n}' is registered."), n);
            foreach (var h in matches) WriteObject(h);
        }
    }
}
