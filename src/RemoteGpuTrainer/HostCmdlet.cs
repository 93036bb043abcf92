using System.Management.Automation;
using RemoteGpuTrainer.Engine;
using RemoteGpuTrainer.Engine.Model;

namespace RemoteGpuTrainer;

/// <summary>
/// Base of every cmdlet that acts on hosts: binds hosts by value (GpuHost) or by name (any object
/// with a Name property), collects them, and fans the work out with a throttle; results are written
/// by the pipeline thread as each host finishes.
/// </summary>
public abstract class HostCmdlet : SshCmdlet
{
    protected const string ByName = "ByName";
    protected const string ByObject = "ByObject";
    /// <summary>The default set of read-only cmdlets: no -Name and no piped hosts means every host of the inventory.</summary>
    protected const string AllHosts = "AllHosts";

    readonly List<GpuHost> _hosts = new();

    /// <summary>Host names from the inventory; wildcards allowed.</summary>
    [Parameter(ParameterSetName = ByName, Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(HostNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string[] Name { get; set; } = Array.Empty<string>();

    [Parameter(ParameterSetName = ByObject, Mandatory = true, ValueFromPipeline = true)]
    [Alias("Host")]
    [ValidateNotNull]
    public GpuHost[] InputObject { get; set; } = Array.Empty<GpuHost>();

    /// <summary>How many hosts are worked on at once.</summary>
    [Parameter]
    [ValidateRange(1, 1024)]
    public int ThrottleLimit { get; set; } = 32;

    protected IReadOnlyList<GpuHost> Hosts => _hosts;

    protected override void ProcessRecord()
    {
        if (ParameterSetName == ByObject)
        {
            foreach (var h in InputObject) AddHost(h);
            return;
        }
        if (ParameterSetName == AllHosts)
        {
            IReadOnlyList<GpuHost> all;
            try { all = Inventory.Load(); }
            catch (RgtException ex) { ThrowFailure(ex, Inventory.FilePath); return; }
            if (all.Count == 0) WriteWarning("No host is registered yet: add one with New-GpuRental '<connection string>' -Name <name>.");
            foreach (var h in all) AddHost(h);
            return;
        }
        foreach (var h in ResolveHostNames(Name)) AddHost(h);
    }

    void AddHost(GpuHost h)
    {
        if (!_hosts.Any(x => string.Equals(x.Name, h.Name, StringComparison.OrdinalIgnoreCase))) _hosts.Add(h);
    }

    /// <summary>Runs <paramref name="work"/> for every collected host and writes each result or error as it arrives.</summary>
    protected void FanOut<T>(Func<GpuHost, CancellationToken, Task<T>> work, string activity, Func<GpuHost, Exception, T>? onError = null)
    {
        int done = 0;
        var progress = new ProgressRecord(1, activity, $"0 of {_hosts.Count} hosts");
        foreach (var r in FanOut(_hosts, ThrottleLimit, work))
        {
            done++;
            if (_hosts.Count > 1)
            {
                progress.StatusDescription = $"{done} of {_hosts.Count} hosts (last: {r.Item.Name})";
                progress.PercentComplete = done * 100 / _hosts.Count;
                WriteProgress(progress);
            }
            if (r.Error is not null)
            {
                WriteFailure(r.Error, r.Item.Name);
                // Some cmdlets also report the failure as an object, so Where-Object can find it.
                if (onError is not null && r.Error is not OperationCanceledException) WriteObject(onError(r.Item, r.Error), enumerateCollection: true);
            }
            else WriteObject(r.Value, enumerateCollection: true);
        }
        if (_hosts.Count > 1)
        {
            progress.RecordType = ProgressRecordType.Completed;
            WriteProgress(progress);
        }
    }
}
