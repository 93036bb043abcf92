using System.Management.Automation;
using RemoteGpuTrainer.Engine;
using RemoteGpuTrainer.Engine.Hosts;
using RemoteGpuTrainer.Engine.Model;

namespace RemoteGpuTrainer.Commands;

/// <summary>Registers an SSH rental (a connection string as the platform prints it) in the inventory.</summary>
[Cmdlet(VerbsCommon.New, "GpuRental", SupportsShouldProcess = true)]
[OutputType(typeof(GpuHost))]
public sealed class NewGpuRentalCommand : RgtCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string ConnectionString { get; set; } = "";

    [Parameter]
    public string? Name { get; set; }

    [Parameter]
    [ArgumentCompleter(typeof(PlatformNameCompleter))]
    public string? Platform { get; set; }

    [Parameter]
    public string? IdentityFile { get; set; }

    [Parameter]
    [ArgumentCompleter(typeof(TagCompleter))]
    public string[]? Tag { get; set; }

    [Parameter]
    public string? DataDir { get; set; }

    [Parameter]
    public string? DurableDir { get; set; }

    [Parameter]
    public string? Region { get; set; }

    [Parameter]
    public string? Python { get; set; }

    [Parameter]
    public string? Notes { get; set; }

    /// <summary>Register a bare name that is neither an ~/.ssh/config Host nor resolvable here (otherwise refused as a likely typo).</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        if (!ShouldProcess(ConnectionString, "Register the rental in the inventory")) return;
        try
        {
            var identity = IdentityFile is null ? null : GetUnresolvedProviderPathFromPSPath(IdentityFile);
            var result = HostRegistration.Register(
                new RentalRequest(ConnectionString, Name, Platform, identity, Tag, DataDir, DurableDir, Region, Python, Notes, Force),
                Inventory, Catalog, DateTimeOffset.Now);
            foreach (var w in result.Warnings) WriteWarning(w);
            WriteVerbose($"{(result.Created ? "Registered" : "Updated")} {result.Host.Name} ({result.Host.Endpoint}) as platform {result.Platform.Name} in {Inventory.FilePath}.");
            WriteObject(result.Host);
        }
        catch (RgtException ex)
        {
            WriteFailure(ex, ConnectionString);
        }
    }
}
