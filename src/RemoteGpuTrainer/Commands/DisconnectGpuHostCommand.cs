using System.Management.Automation;
using RemoteGpuTrainer.Engine.Ssh;

namespace RemoteGpuTrainer.Commands;

/// <summary>Closes the SSH connections this session keeps open between cmdlets (of the hosts named, or all).</summary>
[Cmdlet(VerbsCommunications.Disconnect, "GpuHost")]
[OutputType(typeof(void))]
public sealed class DisconnectGpuHostCommand : RgtCmdlet
{
    readonly List<string> _names = new();

    /// <summary>Host names (wildcards allowed, by property name from Get-GpuHost); every kept connection when omitted.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(HostNameCompleter))]
    public string[]? Name { get; set; }

    protected override void ProcessRecord()
    {
        if (Name is not null) _names.AddRange(Name);
    }

    protected override void EndProcessing()
    {
        var patterns = _names.Select(n => new WildcardPattern(n, WildcardOptions.IgnoreCase)).ToList();
        var closed = WarmConnections.Drop(patterns.Count == 0 ? null : name => patterns.Any(p => p.IsMatch(name)));
        WriteVerbose($"Closed {closed} kept connection(s); {WarmConnections.Count} stay open.");
    }
}
