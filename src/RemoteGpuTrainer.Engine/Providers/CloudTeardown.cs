using RemoteGpuTrainer.Engine.Model;

namespace RemoteGpuTrainer.Engine.Providers;

/// <summary>
/// Remove-GpuRental through a provider's API: stop or terminate the registered rental, then poll until
/// the provider reports that state (or no longer knows the rental, after a terminate).
/// </summary>
public static class CloudTeardown
{
    public sealed record Outcome(string Status, string ProviderState, string Text);

    public static async Task<Outcome> RunAsync(ICloudProvider api, GpuHost host, string action, TimeSpan timeout, TimeSpan poll, CancellationToken ct)
    {
        var id = host.RentalId ?? throw new RgtException("RentalNotFound", FailureKind.NotFound, $"{host.Name} has no RentalId: it was not created through {api.Name}'s API.");
        if (action == "Stop") await api.StopAsync(id, ct).ConfigureAwait(false);
        else await api.TerminateAsync(id, ct).ConfigureAwait(false);
        var target = action == "Stop" ? "Stopped" : "Terminated";
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            GpuRental now;
            try { now = await api.GetAsync(id, ct).ConfigureAwait(false); }
            catch (RgtException ex) when (ex.ErrorId == "RentalNotFound" && action == "Release")
            {
                return new Outcome("Terminated", "gone", $"{api.Name} rental {id} is terminated (the provider no longer lists it).");
            }
            if (now.State == target || (action == "Stop" && now.State is "Terminated" or "Preempted"))
                return new Outcome(now.State, now.ProviderState ?? now.State, $"{api.Name} rental {id} is {now.ProviderState ?? now.State}.");
            if (DateTime.UtcNow + poll > deadline)
                throw new RgtException("TeardownUnconfirmed", FailureKind.Timeout,
                    $"{api.Name} accepted the {action.ToLowerInvariant()} of rental {id}, but after {Format.Duration(timeout)} it still reports {now.ProviderState}: check the console ({CloudProviders.Console(api.Name)}); it may still bill.");
            await Task.Delay(poll, ct).ConfigureAwait(false);
        }
    }
}
