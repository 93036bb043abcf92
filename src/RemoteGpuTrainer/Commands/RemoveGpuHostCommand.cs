using System.Management.Automation;
using RemoteGpuTrainer.Engine;
using RemoteGpuTrainer.Engine.Model;

namespace RemoteGpuTrainer.Commands;

/// <summary>Removes hosts from the local inventory. The machine itself is not touched.</summary>
[Cmdlet(VerbsCommon.Remove, "GpuHost", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = ByName)]
[OutputType(typeof(void))]
public sealed class RemoveGpuHostCommand : RgtCmdlet
{
    const string ByName = "ByName";
    const string ByObject = "ByObject";

    [Parameter(ParameterSetName = ByName, Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(HostNameCompleter))]
    public string[] Name { get; set; } = Array.Empty<string>();

    [Parameter(ParameterSetName = ByObject, Mandatory = true, ValueFromPipeline = true)]
    [Alias("Host")]
    public GpuHost[] InputObject { get; set; } = Array.Empty<GpuHost>();

    protected override void ProcessRecord()
    {
        var names = ParameterSetName == ByObject ? InputObject.Select(h => h.Name).ToArray() : Name;
        foreach (var name in names)
        {
            if (!ShouldProcess(name, "Remove the host from the inventory (the rental itself keeps running and billing)")) continue;
            try
            {
                Inventory.Update(hosts =>
                {
                    if (hosts.RemoveAll(h => string.Equals(h.Name, name, StringComparison.OrdinalIgnoreCase)) == 0)
                        throw new RgtException("HostNotFound", FailureKind.NotFound, $"No host named '{name}' is registered.");
                    return hosts;
                });
            }
            catch (RgtException ex)
            {
                WriteFailure(ex, name);
            }
        }
    }
}
