using System.Net.Sockets;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Providers;

namespace RemoteGpuTrainer.Engine.Rentals;

/// <summary>How long a new instance may take, how often it is asked about, how many offers are tried; the image for a provider when the spec names none.</summary>
public sealed record LaunchOptions(TimeSpan Timeout, TimeSpan PollInterval, int MaxOffers, Func<string, string?>? DefaultImage = null);

/// <summary>A created instance whose SSH answers, and the offer it came from; <see cref="GpuRental.RentalId"/> is the id the create returned.</summary>
public sealed record LaunchedRental(ICloudProvider Api, GpuOffer Offer, GpuRental Instance);

/// <summary>
/// Creates an instance from the first offer that has capacity and waits until its SSH answers. Once a
/// provider has accepted a create, nothing is left billing on the way out: a failed start, the timeout,
/// Ctrl+C or any error at all (a malformed answer included) terminates what was created (on a token of
/// its own, so a cancelled wait still cleans up), and when even that fails the error names the rental
/// id and the console to use. A create whose answer was lost (a 5xx, a dropped connection, Ctrl+C during
/// the call) is never sent again: the instance is looked up by the name it carried, among those that
/// did not have that name before, and adopted or terminated; when the lookup cannot tell, the error
/// says an instance may exist, under which name, and where to look.
/// </summary>
public static class RentalLauncher
{
    public static async Task<LaunchedRental> LaunchAsync(
        IReadOnlyList<(ICloudProvider Api, GpuOffer Offer)> candidates, RentalSpec spec, LaunchOptions options,
        Action<string> log, Action<string, int?> progress, CancellationToken ct)
    {
        var refused = new List<string>();
        var named = new Dictionary<ICloudProvider, HashSet<string>>();
        foreach (var (api, offer) in candidates.Take(options.MaxOffers))
        {
            progress($"{offer.Provider}: creating from offer {offer.OfferId} ({offer.GpuCount}x {offer.Gpu}, {offer.HourlyPrice} {offer.Currency}/h)", null);
            var own = spec.Image.Length > 0 ? spec : spec with { Image = options.DefaultImage?.Invoke(offer.Provider) ?? "" };
            // Which instances already carry the name (once per provider, plus what this launch created):
            // a lost create's answer is looked for among the others only.
            if (!named.TryGetValue(api, out var before))
                named[api] = before = (await api.ListAsync(ct).ConfigureAwait(false)).Where(r => r.Name == own.Name).Select(r => r.RentalId).ToHashSet(StringComparer.Ordinal);
            string id;
            try
            {
                id = await api.CreateAsync(offer, own, ct).ConfigureAwait(false);
            }
            catch (RgtException ex) when (ex.ErrorId == "NoCapacity")
            {
                refused.Add($"{offer.Provider}/{offer.OfferId}: {ex.Message}");
                log($"no capacity for {offer.Provider}/{offer.OfferId}; trying the next offer");
                continue;
            }
            catch (Exception ex) when (ex is RgtException { ErrorId: "ProviderOutcomeUnknown" } || ex is OperationCanceledException)
            {
                id = await AdoptLostCreateAsync(api, own.Name, before, ex, log).ConfigureAwait(false);
            }
            before.Add(id);
            log($"{offer.Provider} accepted the create: rental {id}");
            try
            {
                ct.ThrowIfCancellationRequested();
                var ready = await WaitReachableAsync(api, id, options, progress, ct).ConfigureAwait(false);
                return new LaunchedRental(api, offer, ready);
            }
            catch (Exception ex)
            {
                var cleanup = await TerminateAsync(api, id, log).ConfigureAwait(false);
                if (ex is RgtException { ErrorId: "RentalStartFailed" } failed && cleanup is null)
                {
                    refused.Add($"{offer.Provider}/{offer.OfferId}: {failed.Message} (rental {id} terminated)");
                    continue;
                }
                throw Terminated(api.Name, id, ex, cleanup);
            }
        }
        throw new RgtException("NoCapacity", FailureKind.ResourceBusy,
            $"No offer could be started ({refused.Count} tried): {string.Join("; ", refused)}. Widen the search (Get-GpuOffer without -MaxHourlyPrice, another -Region) or try again later.");
    }

    /// <summary>
    /// The error for a launch that failed after the create: the cleanup's own failure when it failed
    /// (it names the rental and the console), else the cause with the rental named as terminated.
    /// </summary>
    public static Exception Terminated(string provider, string id, Exception cause, RgtException? cleanup)
    {
        if (cleanup is not null) return cleanup;
        return cause switch
        {
            OperationCanceledException => new RgtException("RentalCancelled", FailureKind.OperationFailed, $"{provider}: stopped while waiting for rental {id}; it was terminated, nothing is billing.", cause),
            RgtException r => new RgtException(r.ErrorId, r.Kind, r.Message + $" Rental {id} was terminated: nothing is billing.", cause),
            _ => new RgtException("ProviderError", FailureKind.InvalidData, $"{provider}: rental {id} could not be followed ({cause.GetType().Name}: {cause.Message}). Rental {id} was terminated: nothing is billing.", cause),
        };
    }

    /// <summary>
    /// After a create whose answer was lost: the instance it made, if any, found by its name among the
    /// ones that did not carry that name before. One is adopted (a Ctrl+C terminates it instead), extra
    /// ones are terminated; none means nothing was created. A lookup that fails cannot tell, and says so.
    /// </summary>
    static async Task<string> AdoptLostCreateAsync(ICloudProvider api, string name, IReadOnlySet<string> before, Exception cause, Action<string> log)
    {
        var cancelled = cause is OperationCanceledException;
        List<string> made = new();
        // A create that timed out may still be under way at the provider: its instance can be listed a while later.
        var looks = 0;
        for (var started = DateTime.UtcNow; ; looks++)
        {
            try
            {
                using var own = new CancellationTokenSource(TimeSpan.FromSeconds(60));
                made = (await api.ListAsync(own.Token).ConfigureAwait(false)).Where(r => r.Name == name && !before.Contains(r.RentalId) && r.State != nameof(RentalState.Terminated))
                    .Select(r => r.RentalId).ToList();
            }
            catch (Exception lookup)
            {
                throw new RgtException("RentalMayExist", FailureKind.OperationFailed,
                    $"{api.Name}: the create of '{name}' got no answer ({cause.Message}), and the instances could not be listed to find out whether it was made ({lookup.Message}). " +
                    $"An instance named '{name}' may exist and bill: look for it with Get-GpuRental {api.Name}, or in the console ({CloudProviders.Console(api.Name)}), and terminate it there.", cause);
            }
            if (made.Count > 0 || DateTime.UtcNow - started >= LostCreateWatch) break;
            await Task.Delay(LostCreateLook, CancellationToken.None).ConfigureAwait(false);
        }
        if (made.Count == 0)
        {
            var watched = $"no new instance of that name was listed in {looks + 1} looks over {LostCreateWatch.TotalSeconds:0} s";
            log($"{api.Name}: the create of '{name}' got no answer, and {watched}");
            var later = $"If one shows up later, Get-GpuRental {api.Name} lists it as not in the inventory (InInventory False): terminate it with Remove-GpuRental.";
            throw cancelled
                ? new RgtException("RentalCancelled", FailureKind.OperationFailed, $"{api.Name}: stopped during the create of '{name}'; {watched}: most likely nothing was created. {later}", cause)
                : new RgtException("ProviderError", FailureKind.OperationFailed, $"{cause.Message} {char.ToUpperInvariant(watched[0])}{watched[1..]}: most likely nothing was created. {later}", cause);
        }
        foreach (var extra in made.Skip(cancelled ? 0 : 1))
            if (await TerminateAsync(api, extra, log).ConfigureAwait(false) is { } orphan) throw orphan;
        if (cancelled)
            throw new RgtException("RentalCancelled", FailureKind.OperationFailed, $"{api.Name}: stopped during the create of '{name}'; the rental it made ({string.Join(", ", made)}) was terminated, nothing is billing.", cause);
        log($"{api.Name}: the create of '{name}' got no answer, but rental {made[0]} of that name is new: following it");
        return made[0];
    }

    /// <summary>How long the instances are looked at again after a create whose answer was lost, and how often.</summary>
    static readonly TimeSpan LostCreateWatch = TimeSpan.FromSeconds(15), LostCreateLook = TimeSpan.FromSeconds(3);

    /// <summary>Polls until the instance runs and its SSH port speaks SSH; a failed start or the timeout ends the wait.</summary>
    /// <param name="restarting">A start of a stopped or preempted rental: that state may linger for a poll or two.</param>
    public static async Task<GpuRental> WaitReachableAsync(ICloudProvider api, string id, LaunchOptions options, Action<string, int?> progress, CancellationToken ct, bool restarting = false)
    {
        var started = DateTime.UtcNow;
        var deadline = started + options.Timeout;
        string last = "";
        while (true)
        {
            var r = await api.GetAsync(id, ct).ConfigureAwait(false);
            if (r.RentalId != id)
                throw new RgtException("ProviderError", FailureKind.InvalidData, $"{api.Name}: asked about rental {id}, the answer is about '{Hosts.ConnectionString.Printable(r.RentalId)}'; it is not used.");
            last = $"{r.ProviderState}{(string.IsNullOrEmpty(r.StatusMessage) ? "" : ": " + r.StatusMessage)}";
            if (r.State is nameof(RentalState.Failed) or nameof(RentalState.Terminated) || (r.State == nameof(RentalState.Preempted) && !restarting))
                throw new RgtException("RentalStartFailed", FailureKind.OperationFailed, $"{api.Name}: rental {id} did not start ({last}).");
            if (r.State == nameof(RentalState.Running) && r.SshHost is { } host && r.SshPort is { } port && await SpeaksSshAsync(host, port, ct).ConfigureAwait(false))
                return r;
            var elapsed = DateTime.UtcNow - started;
            progress($"{api.Name}: rental {id} is {last} ({elapsed.TotalSeconds:0} s)", (int)Math.Min(99, elapsed.TotalSeconds * 100 / options.Timeout.TotalSeconds));
            if (DateTime.UtcNow + options.PollInterval > deadline)
                throw new RgtException("RentalTimeout", FailureKind.Timeout, $"{api.Name}: rental {id} was not reachable over SSH within {Format.Duration(options.Timeout)} (last state {last}).");
            await Task.Delay(options.PollInterval, ct).ConfigureAwait(false);
        }
    }

    /// <summary>An SSH server greets first ("SSH-2.0-…"): a port that accepts but stays silent is not ready.</summary>
    static async Task<bool> SpeaksSshAsync(string host, int port, CancellationToken ct)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(5));
            using var client = new TcpClient();
            await client.ConnectAsync(host, port, timeout.Token).ConfigureAwait(false);
            var buffer = new byte[4];
            var read = 0;
            var stream = client.GetStream();
            while (read < 4) { var n = await stream.ReadAsync(buffer.AsMemory(read), timeout.Token).ConfigureAwait(false); if (n == 0) return false; read += n; }
            return System.Text.Encoding.ASCII.GetString(buffer) == "SSH-";
        }
        catch (Exception ex) when (ex is SocketException or IOException or OperationCanceledException && !ct.IsCancellationRequested) { return false; }
    }

    /// <summary>Terminates a rental on a token of its own (60 s); null when done, else the error that names what is still billing.</summary>
    public static async Task<RgtException?> TerminateAsync(ICloudProvider api, string id, Action<string> log)
    {
        using var own = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await api.TerminateAsync(id, own.Token).ConfigureAwait(false);
            log($"{api.Name}: terminated rental {id}");
            return null;
        }
        catch (Exception ex)
        {
            if (ex is RgtException { ErrorId: "RentalNotFound" }) return null;
            return new RgtException("RentalOrphaned", FailureKind.OperationFailed,
                $"{api.Name}: rental {id} may still be billing: terminating it failed ({ex.Message}). Terminate it in the console ({CloudProviders.Console(api.Name)}), or with Remove-GpuRental once it is registered.", ex);
        }
    }
}
