using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Scripts;
using RemoteGpuTrainer.Engine.Ssh;

namespace RemoteGpuTrainer.Engine.Hosts;

/// <summary>
/// Secrets on the box: over stdin into a mode-600 file on the per-instance disk,
/// never on durable or shared storage, which outlives the instance and may be readable by others.
/// The target is resolved on the box first, so ~/x and $HOME/x are judged by where they really are.
/// </summary>
public static class SecretWriter
{
    /// <summary>The absolute target on the box; SecretOnSharedStorage when it is under a durable or shared directory.</summary>
    public static async Task<string> ResolveTargetAsync(HostConnector connector, GpuHost host, GpuPlatform? platform, string path, CancellationToken ct)
    {
        // The durable directory and the target in one round trip (none when both are absolute).
        var shell = (await connector.OpenAsync(host, ct, resolvePaths: false).ConfigureAwait(false)).Shell;
        var paths = await RemotePaths.ResolveAsync(shell, host.Name, new[] { host.DurableDir, path.Trim() }, ct).ConfigureAwait(false);
        var target = paths[1]!;
        var shared = new[] { paths[0] }
            .Concat(platform?.Storage.Where(t => string.Equals(t.SurvivesDestroy, "true", StringComparison.OrdinalIgnoreCase)).Select(t => t.Path) ?? Enumerable.Empty<string?>())
            .Where(p => !string.IsNullOrEmpty(p) && p!.StartsWith('/')).Select(p => p!.TrimEnd('/')).Distinct().ToList();
        var under = shared.FirstOrDefault(d => target == d || target.StartsWith(d + "/", StringComparison.Ordinal));
        if (under is not null)
            throw new RgtException("SecretOnSharedStorage", FailureKind.SecurityError,
                $"{target} is under {under}, durable or shared storage that outlives the instance (and may be readable by others). Put secrets on the per-instance disk, e.g. {host.CredFile ?? "/root/.wandb_key"}.");
        return target;
    }

    /// <summary>Writes the value through stdin; the command line holds nothing but the path.</summary>
    public static async Task WriteAsync(IHostShell shell, GpuHost host, string target, string value, CancellationToken ct)
    {
        var output = await shell.RunAsync(BoxScript.Load("secret").Set("TARGET", target).Command, TimeSpan.FromSeconds(30), ct, value).ConfigureAwait(false);
        var s = Parsing.ProbeSections.Parse(output.StdOut);
        if (s.ExitCode("secret") != 0 || s["secret"].Trim() != "600")
            throw new RgtException("SecretWriteFailed", FailureKind.OperationFailed,
                $"{host.Name}: writing {target} failed (status {s.ExitCode("secret")?.ToString() ?? "none"}).");
    }
}
