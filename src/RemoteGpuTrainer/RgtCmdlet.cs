using RemoteGpuTrainer.Engine.Rentals;
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

    readonly System.Collections.Concurrent.ConcurrentQueue<string> _verbose = new();

    /// <summary>Where engine code logs for -Verbose from any thread; <see cref="FlushVerbose"/> writes it.</summary>
    protected Action<string> VerboseLog => _verbose.Enqueue;

    /// <summary>
    /// Options whose steps (endpoint, key, connect time, each box script and its duration) reach -Verbose;
    /// in an interactive session an encrypted key no agent holds is asked for, once per key.
    /// </summary>
    private protected Engine.Ssh.ConnectOptions Interactive(Engine.Ssh.ConnectOptions? options)
    {
        _pipelineThread = Environment.CurrentManagedThreadId;
        return (options ?? new Engine.Ssh.ConnectOptions()) with { Log = VerboseLog, Passphrase = RunsUnattended() ? null : AskPassphrase };
    }

    int _pipelineThread = -1;
    readonly System.Collections.Concurrent.ConcurrentQueue<(string File, TaskCompletionSource<string?> Answer)> _asks = new();
    readonly System.Collections.Concurrent.ConcurrentDictionary<string, string?> _given = new(StringComparer.Ordinal);

    /// <summary>
    /// The passphrase of an identity file, asked on the pipeline thread (the only one that may prompt): a
    /// worker's question waits there until <see cref="FlushVerbose"/> asks it. Never echoed, never kept
    /// beyond this process (<see cref="Engine.Ssh.Passphrases"/>).
    /// </summary>
    string? AskPassphrase(string file)
    {
        if (Environment.CurrentManagedThreadId == _pipelineThread) return Prompt(file);
        var ask = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        _asks.Enqueue((file, ask));
        return ask.Task.Wait(TimeSpan.FromMinutes(5)) ? ask.Task.Result : null;
    }

    string? Prompt(string file) => _given.GetOrAdd(file, f =>
    {
        if (Engine.Ssh.Passphrases.Get(f) is { } known) return known;
        Host.UI.Write($"Enter passphrase for key '{f}': ");
        var secure = Host.UI.ReadLineAsSecureString();
        return secure is null || secure.Length == 0 ? null : new System.Net.NetworkCredential("", secure).Password;
    });

    /// <summary>True when this pwsh was started to run a command and exit (cron, Task Scheduler), not to keep a prompt: nothing may wait on a question.</summary>
    protected static bool RunsUnattended()
    {
        var args = Environment.GetCommandLineArgs().Skip(1).Select(a => a.ToLowerInvariant()).ToList();
        if (args.Any(a => a is "-noexit" or "-noe")) return false;
        return args.Any(a => a is "-noninteractive" or "-noni" or "-command" or "-c" or "-file" or "-f" or "-encodedcommand" or "-e" or "-ec");
    }

    /// <summary>
    /// <see cref="Engine.FanOut.Run"/> on the cmdlet's cancellation, writing what the workers logged for
    /// -Verbose on the pipeline thread as they go (and <paramref name="onIdle"/>, e.g. progress).
    /// </summary>
    protected IEnumerable<FanOutResult<TIn, TOut>> FanOut<TIn, TOut>(IReadOnlyList<TIn> items, int throttle, Func<TIn, CancellationToken, Task<TOut>> work, Action? onIdle = null)
    {
        foreach (var r in Engine.FanOut.Run(items, throttle, work, Cancellation, () => { FlushVerbose(); onIdle?.Invoke(); }))
        {
            FlushVerbose();
            yield return r;
        }
        FlushVerbose();
    }

    /// <summary>Every provider's rentals, asked at once (keys from the environment or CLI key files), matched against <paramref name="inventory"/>; a provider that fails is an error record.</summary>
    protected List<Engine.Model.GpuRental> ListRentals(IReadOnlyList<string> providers, IReadOnlyList<Engine.Model.GpuHost> inventory)
    {
        var rentals = new List<Engine.Model.GpuRental>();
        var catalog = Catalog;
        foreach (var r in FanOut(providers, Math.Max(1, providers.Count), async (p, ct) =>
        {
            using var api = Engine.Providers.CloudProviders.Connect(p, null, VerboseLog, catalog);
            return await api.ListAsync(ct).ConfigureAwait(false);
        }))
        {
            if (r.Error is not null) WriteFailure(r.Error, r.Item);
            else rentals.AddRange(Engine.Rentals.RentalCensus.Match(r.Value!, inventory));
        }
        return rentals;
    }

    /// <summary>Runs async work on the pipeline thread's watch, showing progress while it waits; Ctrl+C cancels it.</summary>
    protected T RunWithProgress<T>(Func<CancellationToken, Task<T>> work, ProgressRecord progress)
    {
        var task = work(Cancellation);
        try
        {
            while (!((IAsyncResult)task).AsyncWaitHandle.WaitOne(TimeSpan.FromMilliseconds(250)))
            {
                FlushVerbose();
                lock (progress) WriteProgress(progress);
            }
        }
        catch (PipelineStoppedException)
        {
            // Ctrl+C: the work was cancelled and cleans up (terminates what it created); let it finish before the pipeline goes.
            try { task.Wait(TimeSpan.FromSeconds(90)); } catch (AggregateException) { }
            throw;
        }
        FlushVerbose();
        progress.RecordType = ProgressRecordType.Completed;
        WriteProgress(progress);
        progress.RecordType = ProgressRecordType.Processing;
        try { return task.GetAwaiter().GetResult(); }
        catch (AggregateException ex) when (ex.InnerException is not null) { throw ex.InnerException; }
    }

    /// <summary>Writes what worker threads logged; only the pipeline thread may write.</summary>
    protected void FlushVerbose()
    {
        while (_verbose.TryDequeue(out var message)) WriteVerbose(message);
        while (_asks.TryDequeue(out var a))
        {
            try { a.Answer.TrySetResult(Prompt(a.File)); }
            catch (Exception) { a.Answer.TrySetResult(null); }
        }
    }

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
