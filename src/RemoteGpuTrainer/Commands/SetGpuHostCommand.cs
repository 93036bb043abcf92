using System.Management.Automation;
using RemoteGpuTrainer.Engine;
using RemoteGpuTrainer.Engine.Hosts;
using RemoteGpuTrainer.Engine.Model;

namespace RemoteGpuTrainer.Commands;

/// <summary>Changes fields of a registered host.</summary>
[Cmdlet(VerbsCommon.Set, "GpuHost", SupportsShouldProcess = true, DefaultParameterSetName = ByName)]
[OutputType(typeof(GpuHost))]
public sealed class SetGpuHostCommand : RgtCmdlet
{
    const string ByName = "ByName";
    const string ByObject = "ByObject";

    [Parameter(ParameterSetName = ByName, Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(HostNameCompleter))]
    public string Name { get; set; } = "";

    [Parameter(ParameterSetName = ByObject, Mandatory = true, ValueFromPipeline = true)]
    [Alias("Host")]
    public GpuHost? InputObject { get; set; }

    [Parameter] public string? NewName { get; set; }
    [Parameter] public string? HostName { get; set; }
    [Parameter] [ValidateRange(1, 65535)] public int? Port { get; set; }
    [Parameter] public string? User { get; set; }
    [Parameter] public string? IdentityFile { get; set; }
    [Parameter] [ArgumentCompleter(typeof(PlatformNameCompleter))] public string? Platform { get; set; }
    [Parameter] public string? Region { get; set; }
    [Parameter] [ArgumentCompleter(typeof(TagCompleter))] public string[]? Tag { get; set; }
    /// <summary>What the rental costs per hour, for the spend Get-GpuHost shows.</summary>
    [Parameter] [ValidateRange(0, 1000000)] public decimal? HourlyPrice { get; set; }
    /// <summary>The currency of -HourlyPrice (CNY, USD, ...).</summary>
    [Parameter] [ValidatePattern("^[A-Za-z]{3}$")] public string? Currency { get; set; }
    [Parameter] public string? DataDir { get; set; }
    [Parameter] public string? DurableDir { get; set; }
    [Parameter] public string? ProxyHook { get; set; }
    [Parameter] public string? CredFile { get; set; }
    [Parameter] public string? Python { get; set; }
    [Parameter] public string[]? GpuDevicePath { get; set; }
    [Parameter] public string? Notes { get; set; }
    [Parameter] public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        var target = InputObject?.Name ?? Name;
        if (!ShouldProcess(target, "Update the host in the inventory")) return;
        try
        {
            if (NewName is not null) HostRegistration.ValidateName(NewName);
            var tags = Tag is null ? null : HostRegistration.ValidateTags(Tag);
            if (Platform is not null) Catalog.Get(Platform);
            if (HostName is not null || User is not null)
            {
                // Validate through the same parser New-GpuRental uses, so a hostile value is refused the same way.
                ConnectionString.Parse((User is null ? "" : User + "@") + (HostName ?? "placeholder"));
            }
            GpuHost? updated = null;
            Inventory.Update(hosts =>
            {
                var i = hosts.FindIndex(h => string.Equals(h.Name, target, StringComparison.OrdinalIgnoreCase));
                if (i < 0) throw new RgtException("HostNotFound", FailureKind.NotFound, $"No host named '{target}' is registered.");
                if (NewName is not null && hosts.Any(h => h != hosts[i] && string.Equals(h.Name, NewName, StringComparison.OrdinalIgnoreCase)))
                    throw new RgtException("HostNameTaken", FailureKind.InvalidArgument, $"Another host is already named '{NewName}'.");
                var h = hosts[i];
                updated = h with
                {
                    Name = NewName ?? h.Name, HostName = HostName ?? h.HostName, Port = Port ?? h.Port, User = User ?? h.User,
                    IdentityFile = IdentityFile is null ? h.IdentityFile : GetUnresolvedProviderPathFromPSPath(IdentityFile),
                    Platform = Platform ?? h.Platform, Region = Region ?? h.Region, Tags = tags ?? h.Tags,
                    DataDir = DataDir ?? h.DataDir, DurableDir = DurableDir ?? h.DurableDir, ProxyHook = ProxyHook ?? h.ProxyHook,
                    CredFile = CredFile ?? h.CredFile, Python = Python ?? h.Python, GpuDevicePath = GpuDevicePath ?? h.GpuDevicePath,
                    Notes = Notes ?? h.Notes, HourlyPrice = HourlyPrice ?? h.HourlyPrice, Currency = Currency?.ToUpperInvariant() ?? h.Currency,
                };
                hosts[i] = updated;
                return hosts;
            });
            if (NewName is not null && !string.Equals(NewName, target, StringComparison.Ordinal))
            {
                var moved = new Engine.Checkpoints.EvidenceLedger().RenameHost(target, NewName);
                if (moved > 0) WriteVerbose($"{moved} evidence ledger entries now name '{NewName}'.");
            }
            if (PassThru) WriteObject(updated);
        }
        catch (RgtException ex)
        {
            WriteFailure(ex, target);
        }
    }
}
