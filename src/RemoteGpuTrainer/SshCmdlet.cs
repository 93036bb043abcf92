using System.Management.Automation;
using RemoteGpuTrainer.Engine.Ssh;

namespace RemoteGpuTrainer;

/// <summary>Base of every cmdlet that reaches a box over SSH: its connector, and -NoReuse.</summary>
public abstract class SshCmdlet : RgtCmdlet
{
    /// <summary>Connect afresh and close the connection at the end, instead of using and keeping the session's open one.</summary>
    [Parameter]
    public SwitchParameter NoReuse { get; set; }

    /// <summary>
    /// A connector whose steps reach -Verbose, which asks for a passphrase in an interactive session, and which
    /// uses and keeps the session's open connections unless -NoReuse.
    /// </summary>
    protected HostConnector NewConnector(ConnectOptions? options = null) =>
        new(Interactive(options) with { Reuse = !NoReuse.IsPresent });

    /// <summary>What a -Recover tick recovers with: this invocation's stores, inventory, connections and log; a rental gets 20 minutes to answer.</summary>
    protected Engine.Recovery.RecoveryContext NewRecoveryContext(Engine.Recovery.RecoveryStore store)
    {
        var catalog = Catalog;
        return new(store, catalog, Inventory, NewConnector,
            new Engine.Rentals.LaunchOptions(TimeSpan.FromMinutes(20), TimeSpan.FromSeconds(2), 3, p => catalog.Find(p)?.DefaultImage), VerboseLog,
            Environment.GetFolderPath(Environment.SpecialFolder.UserProfile));
    }
}
