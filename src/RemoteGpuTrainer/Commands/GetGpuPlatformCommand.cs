using System.Management.Automation;
using RemoteGpuTrainer.Engine;
using RemoteGpuTrainer.Engine.Model;

namespace RemoteGpuTrainer.Commands;

/// <summary>Lists platform profiles from the catalog, or with -Stale the facts due for re-checking.</summary>
[Cmdlet(VerbsCommon.Get, "GpuPlatform", DefaultParameterSetName = "Profiles")]
[OutputType(typeof(GpuPlatform), ParameterSetName = new[] { "Profiles" })]
[OutputType(typeof(GpuPlatformFact), ParameterSetName = new[] { "Stale" })]
public sealed class GetGpuPlatformCommand : RgtCmdlet
{
    [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(PlatformNameCompleter))]
    [Alias("Platform")]
    public string[] Name { get; set; } = { "*" };

    /// <summary>List the facts whose verified stamp is older than -OlderThan, or that have none.</summary>
    [Parameter(Mandatory = true, ParameterSetName = "Stale")]
    public SwitchParameter Stale { get; set; }

    [Parameter(ParameterSetName = "Stale")]
    [Duration]
    public TimeSpan OlderThan { get; set; } = Engine.Platforms.Staleness.DefaultAge;

    protected override void ProcessRecord()
    {
        try
        {
            foreach (var n in Name)
            {
                var pattern = new WildcardPattern(n, WildcardOptions.IgnoreCase);
                var matches = Catalog.All.Where(p => pattern.IsMatch(p.Name)).ToList();
                if (matches.Count == 0 && !WildcardPattern.ContainsWildcardCharacters(n))
                    WriteFailure(new RgtException("PlatformUnknown", FailureKind.NotFound,
                        $"There is no platform '{n}'. Known platforms: {string.Join(", ", Catalog.All.Select(p => p.Name))}."), n);
                foreach (var p in matches)
                {
                    if (Stale) WriteObject(Engine.Platforms.Staleness.StaleFacts(p, DateTimeOffset.UtcNow, OlderThan), true);
                    else WriteObject(p);
                }
            }
        }
        catch (RgtException ex)
        {
            ThrowFailure(ex, null);
        }
    }
}
