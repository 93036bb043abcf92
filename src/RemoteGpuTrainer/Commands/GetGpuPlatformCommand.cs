using System.Management.Automation;
using RemoteGpuTrainer.Engine;
using RemoteGpuTrainer.Engine.Model;

namespace RemoteGpuTrainer.Commands;

/// <summary>Lists platform profiles from the catalog.</summary>
[Cmdlet(VerbsCommon.Get, "GpuPlatform")]
[OutputType(typeof(GpuPlatform))]
public sealed class GetGpuPlatformCommand : RgtCmdlet
{
    [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(PlatformNameCompleter))]
    [Alias("Platform")]
    public string[] Name { get; set; } = { "*" };

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
                foreach (var p in matches) WriteObject(p);
            }
        }
        catch (RgtException ex)
        {
            ThrowFailure(ex, null);
        }
    }
}
