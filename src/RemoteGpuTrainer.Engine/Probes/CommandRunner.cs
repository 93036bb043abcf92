using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Ssh;

namespace RemoteGpuTrainer.Engine.Probes;

/// <summary>Runs a user's command on a host, bounded on the box (timeout) as well as on our side.</summary>
public static class CommandRunner
{
    /// <summary>Exit status of coreutils `timeout` when it had to stop the command.</summary>
    public const int RemoteTimeoutExit = Scripts.BoxExit.Timeout;

    public static string Wrap(string command, int timeoutSeconds) =>
        Scripts.BoxScript.Load("run-command").Set("USER_COMMAND", command).Set("TIMEOUT_SECONDS", timeoutSeconds).Command;

    public static async Task<GpuCommandResult> RunAsync(IHostShell shell, string name, string command, int timeoutSeconds, CancellationToken cancellationToken)
    {
        // Our side waits a little longer than the box's own timeout so the box reports first.
        var output = await shell.RunAsync(Wrap(command, timeoutSeconds), TimeSpan.FromSeconds(timeoutSeconds + 10), cancellationToken).ConfigureAwait(false);
        ThrowIfStopped(output, name, timeoutSeconds);
        return new GpuCommandResult { Name = name, ExitCode = output.ExitCode, StdOut = output.StdOut, StdErr = output.StdErr, Duration = output.Duration };
    }

    /// <summary>
    /// As <see cref="RunAsync"/>, with each line handed to <paramref name="onLine"/> (true: standard
    /// error) as the box prints it; the result holds the text only with <paramref name="keepText"/>.
    /// </summary>
    public static async Task<GpuCommandResult> RunLiveAsync(SshConnection connection, string name, string command, int timeoutSeconds, Action<string, bool> onLine, bool keepText, CancellationToken cancellationToken)
    {
        var output = await connection.RunStreamingAsync(Wrap(command, timeoutSeconds), TimeSpan.FromSeconds(timeoutSeconds + 10), onLine, cancellationToken, keepText).ConfigureAwait(false);
        ThrowIfStopped(output, name, timeoutSeconds);
        return new GpuCommandResult { Name = name, ExitCode = output.ExitCode, StdOut = output.StdOut, StdErr = output.StdErr, Duration = output.Duration, ShownLive = true };
    }

    /// <summary>The box's timeout stopped the command: an error for that host, not a result.</summary>
    public static void ThrowIfStopped(CommandOutput output, string name, int timeoutSeconds)
    {
        if (output.ExitCode == RemoteTimeoutExit && output.Duration >= TimeSpan.FromSeconds(timeoutSeconds))
            throw new RgtException("CommandTimeout", FailureKind.Timeout, $"{name}: the command did not finish within {timeoutSeconds} s and was stopped on the box.");
    }
}
