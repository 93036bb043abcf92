using System.Management.Automation;
using RemoteGpuTrainer.Engine;
using RemoteGpuTrainer.Engine.Hosts;
using RemoteGpuTrainer.Engine.Platforms;

namespace RemoteGpuTrainer;

/// <summary>What every cmdlet of the module shares: cancellation, error records, local state.</summary>
public abstract class RgtCmdlet : PSCmdlet
{
    CancellationTokenSource? _cancel;
    PlatformCatalog? _catalog;
    HostInventory? _inventory;

    /// <summary>Cancelled by Ctrl+C (StopProcessing); pass it to every engine call.</summary>
    protected CancellationToken Cancellation => (_cancel ??= new CancellationTokenSource()).Token;

    protected override void BeginProcessing() => _cancel ??= new CancellationTokenSource();

    protected override void StopProcessing() => _cancel?.Cancel();

    protected HostInventory Inventory => _inventory ??= new HostInventory();

    protected PlatformCatalog Catalog => _catalog ??= LoadCatalog();

    internal static PlatformCatalog LoadCatalog() => PlatformCatalog.Load(
        Path.Combine(Path.GetDirectoryName(typeof(RgtCmdlet).Assembly.Location)!, "platforms"),
        Path.Combine(ConfigPaths.ConfigDirectory, "platforms"));

    /// <summary>Inventory hosts matching the names (wildcards allowed); a name matching nothing is a HostNotFound error.</summary>
    protected IEnumerable<Engine.Model.GpuHost> ResolveHostNames(IEnumerable<string> names)
    {
        IReadOnlyList<Engine.Model.GpuHost> inventory;
        try { inventory = Inventory.Load(); }
        catch (RgtException ex) { ThrowFailure(ex, Inventory.FilePath); yield break; }
        foreach (var n in names)
        {
            var pattern = new WildcardPattern(n, WildcardOptions.IgnoreCase);
            var matches = inventory.Where(h => pattern.IsMatch(h.Name)).ToList();
            if (matches.Count == 0)
                WriteFailure(new RgtException("HostNotFound", FailureKind.NotFound,
                    $"No host named '{n}' is registered. Register it with New-GpuRental, or list hosts with Get-GpuHost."), n);
            foreach (var h in matches) yield return h;
        }
    }

    /// <summary>The inventory host of that name, or null after a HostNotFound error for it.</summary>
    protected Engine.Model.GpuHost? FindHost(IReadOnlyList<Engine.Model.GpuHost> inventory, string name)
    {
        var host = inventory.FirstOrDefault(h => string.Equals(h.Name, name, StringComparison.OrdinalIgnoreCase));
        if (host is null) WriteFailure(new RgtException("HostNotFound", FailureKind.NotFound, $"No host named '{name}' is registered."), name);
        return host;
    }

    internal static ErrorRecord ToErrorRecord(Exception ex, object? target)
    {
        if (ex is AggregateException { InnerExceptions.Count: 1 } agg) ex = agg.InnerException!;
        if (ex is RgtException r)
            return new ErrorRecord(r, r.ErrorId, Category(r.Kind), target);
        if (ex is OperationCanceledException)
            return new ErrorRecord(ex, "OperationStopped", ErrorCategory.OperationStopped, target);
        return new ErrorRecord(ex, "UnexpectedFailure", ErrorCategory.NotSpecified, target);
    }

    protected void WriteFailure(Exception ex, object? target) => WriteError(ToErrorRecord(ex, target));

    protected void ThrowFailure(Exception ex, object? target) => ThrowTerminatingError(ToErrorRecord(ex, target));

    static ErrorCategory Category(FailureKind kind) => kind switch
    {
        FailureKind.InvalidArgument => ErrorCategory.InvalidArgument,
        FailureKind.InvalidData => ErrorCategory.InvalidData,
        FailureKind.NotFound => ErrorCategory.ObjectNotFound,
        FailureKind.ConnectionError => ErrorCategory.ConnectionError,
        FailureKind.Timeout => ErrorCategory.OperationTimeout,
        FailureKind.AuthenticationError => ErrorCategory.AuthenticationError,
        FailureKind.SecurityError => ErrorCategory.SecurityError,
        FailureKind.ResourceBusy => ErrorCategory.ResourceBusy,
        _ => ErrorCategory.InvalidOperation,
    };
}
