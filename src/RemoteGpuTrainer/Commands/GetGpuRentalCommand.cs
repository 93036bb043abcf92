using RemoteGpuTrainer.Engine.Hosts;
using RemoteGpuTrainer.Engine.Rentals;
using System.Management.Automation;
using RemoteGpuTrainer.Engine;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Providers;

namespace RemoteGpuTrainer.Commands;

/// <summary>Lists what runs or bills at each provider, matched against the inventory: InInventory $false is the forgotten box.</summary>
[Cmdlet(VerbsCommon.Get, "GpuRental")]
[OutputType(typeof(GpuRental))]
public sealed class GetGpuRentalCommand : RgtCmdlet
{
    /// <summary>Default: every provider with a key here (environment or CLI key file) or with a host in the inventory.</summary>
    [Parameter(Position = 0)]
    [ValidateProvider]
    [ArgumentCompleter(typeof(ProviderCompleter))]
    public string[]? Provider { get; set; }

    protected override void EndProcessing()
    {
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        IReadOnlyList<GpuHost> inventory;
        try { inventory = Inventory.Load(); }
        catch (RgtException ex) { ThrowFailure(ex, Inventory.FilePath); return; }
        List<string> providers;
        try { providers = CloudProviders.ToAsk(Provider, () => RentalCensus.ProvidersToAsk(inventory, home), false, " and no inventory host came from a provider. Name one with -Provider."); }
        catch (RgtException ex) { ThrowFailure(ex, null); return; }
        var rentals = ListRentals(providers, inventory);
        foreach (var drift in rentals.Select(x => RentalCensus.Drift(x, inventory)).OfType<string>()) WriteWarning(drift);
        foreach (var forgotten in rentals.Where(x => !x.InInventory))
            WriteWarning($"{RentalCensus.Describe(forgotten)} is in no inventory here: a forgotten box? Stop it in the console ({CloudProviders.Console(forgotten.Provider)}) or register it.");
        WriteObject(rentals.OrderBy(x => x.Provider).ThenBy(x => x.CreatedAt).ToList(), true);
    }
}
