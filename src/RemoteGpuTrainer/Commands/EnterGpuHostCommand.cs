using System.Diagnostics;
using System.Management.Automation;
using RemoteGpuTrainer.Engine;
using RemoteGpuTrainer.Engine.Queues;
using RemoteGpuTrainer.Engine.Ssh;
using RemoteGpuTrainer.Engine.Text;

namespace RemoteGpuTrainer.Commands;

/// <summary>An interactive shell on a host through the system ssh, optionally attached to a queue's tmux session, with port forwards.</summary>
[Cmdlet(VerbsCommon.Enter, "GpuHost", DefaultParameterSetName = "Shell")]
[OutputType(typeof(void))]
public sealed class EnterGpuHostCommand : RgtCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(HostNameCompleter))]
    public string Name { get; set; } = "";

    /// <summary>Attach to this queue's tmux session (detach again with Ctrl+B D; the queue keeps running).</summary>
    [Parameter(ParameterSetName = "Attach", Mandatory = true)]
    [ArgumentCompleter(typeof(QueueCompleter))]
    public string? Attach { get; set; }

    /// <summary>Run this command in a terminal on the box instead of a login shell (nvidia-smi -l 1, htop, watch ...).</summary>
    [Parameter(ParameterSetName = "Command", Mandatory = true)]
    public string? Command { get; set; }

    /// <summary>Ports to forward from this machine to the box's loopback: 6006, or local:remote such as 16006:6006.</summary>
    [Parameter]
    public string[] LocalForward { get; set; } = Array.Empty<string>();

    protected override void EndProcessing()
    {
        var host = ResolveHostNames(new[] { Name }).FirstOrDefault();
        if (host is null) return;
        try
        {
            var forwards = LocalForward.Select(PortForward.Parse).ToList();
            var remote = Attach is not null ? "tmux attach -t " + ShellQuote.Quote("=" + QueueScripts.SessionName(Attach)) : Command;
            var args = SshCommandLine.Arguments(SshTarget.Resolve(host), forwards, remote);
            var ssh = FindSsh() ?? throw new RgtException("SshClientMissing", FailureKind.NotFound,
                "The OpenSSH client (ssh) is not on the PATH. Install it (Debian: apt-get install openssh-client; Windows: the OpenSSH Client optional feature).");
            WriteVerbose($"{ssh} {string.Join(' ', args.Select(a => a.Contains(' ') ? ShellQuote.Quote(a) : a))}");
            foreach (var f in forwards) WriteVerbose($"localhost:{f.Local} on this machine reaches localhost:{f.Remote} on {host.Name} while the session lasts.");
            var psi = new ProcessStartInfo(ssh) { UseShellExecute = false };
            foreach (var a in args) psi.ArgumentList.Add(a);
            // The session uses this terminal directly: nothing is redirected.
            using var p = Process.Start(psi) ?? throw new RgtException("SshStartFailed", FailureKind.OperationFailed, $"Could not start {ssh}.");
            p.WaitForExit();
            SessionState.PSVariable.Set("global:LASTEXITCODE", p.ExitCode);
            if (p.ExitCode == 255)
                WriteFailure(new RgtException("SshSessionFailed", FailureKind.ConnectionError,
                    $"{host.Name}: ssh could not open the session (exit 255; its message is above). Test-GpuHost {host.Name} shows why."), host.Name);
        }
        catch (RgtException ex) { WriteFailure(ex, host.Name); }
    }

    static string? FindSsh()
    {
        var exe = OperatingSystem.IsWindows() ? "ssh.exe" : "ssh";
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, exe);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }
}
