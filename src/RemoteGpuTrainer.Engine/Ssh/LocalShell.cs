using System.Diagnostics;

namespace RemoteGpuTrainer.Engine.Ssh;

/// <summary>
/// The local machine as a host (platform "local"): the same probe scripts run through local bash,
/// for on-box scheduled tasks. Bounded like a remote command: the whole process tree is killed on
/// timeout or cancellation.
/// </summary>
public sealed class LocalShell : IHostShell
{
    public async Task<CommandOutput> RunAsync(string command, TimeSpan timeout, CancellationToken cancellationToken, string? standardInput = null)
    {
        var sw = Stopwatch.StartNew();
        var shell = File.Exists("/bin/bash") ? "/bin/bash" : "/bin/sh";
        var psi = new ProcessStartInfo(shell)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false,
        };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(command);
        using var p = Process.Start(psi) ?? throw new RgtException("LocalShellFailed", FailureKind.OperationFailed, $"Could not start {shell}.");
        var stdout = p.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = p.StandardError.ReadToEndAsync(cancellationToken);
        if (standardInput is not null) await p.StandardInput.WriteAsync(standardInput.AsMemory(), cancellationToken).ConfigureAwait(false);
        p.StandardInput.Close();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        linked.CancelAfter(timeout);
        try
        {
            await p.WaitForExitAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            if (cancellationToken.IsCancellationRequested) throw;
            throw new RgtException("CommandTimeout", FailureKind.Timeout, $"local: the command did not finish within {timeout.TotalSeconds:0} s and was stopped.");
        }
        return new CommandOutput(p.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false), sw.Elapsed, null);
    }

    public void Dispose() { }
}
