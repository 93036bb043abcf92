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
        var providers = Provider?.Distinct().ToList() ?? RentalCensus.ProvidersToAsk(inventory, home);
        if (providers.Count == 0)
        {
            ThrowFailure(new RgtException("ProviderKeyMissing", FailureKind.AuthenticationError,
                "No provider to ask: no API key is set (RUNPOD_API_KEY, VAST_API_KEY, LAMBDA_API_KEY, PAPERSPACE_API_KEY or a provider CLI's key file) and no inventory host came from a provider. Name one with -Provider."), null);
            return;
        }
        var rentals = ListRentals(providers, inventory);
        foreach (var drift in rentals.Select(x => RentalCensus.Drift(x, inventory)).OfType<string>()) WriteWarning(drift);
        foreach (var forgotten in rentals.Where(x => !x.InInventory))
            WriteWarning($"{RentalCensus.Describe(forgotten)} is in no inventory here: a forgotten box? Stop it in the console ({CloudProviders.Console(forgotten.Provider)}) or register it.");
        WriteObject(rentals.OrderBy(x => x.Provider).ThenBy(x => x.CreatedAt).ToList(), true);
    }
}
