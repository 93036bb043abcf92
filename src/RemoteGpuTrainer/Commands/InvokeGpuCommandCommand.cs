using System.Management.Automation;
using RemoteGpuTrainer.Engine;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Probes;
using RemoteGpuTrainer.Engine.Ssh;

namespace RemoteGpuTrainer.Commands;

/// <summary>Runs one bounded command on many hosts at once.</summary>
[Cmdlet(VerbsLifecycle.Invoke, "GpuCommand", DefaultParameterSetName = ByName)]
[OutputType(typeof(GpuCommandResult))]
[OutputType(typeof(string))]
public sealed class InvokeGpuCommandCommand : HostCmdlet
{
    /// <summary>The command, run by bash on the box; second position: Invoke-GpuCommand box 'nvidia-smi'.</summary>
    [Parameter(Mandatory = true, Position = 1)]
    [ValidateNotNullOrEmpty]
    public string Command { get; set; } = "";

    /// <summary>The command is stopped on the box after this many seconds (coreutils timeout) and reported as an error for that host.</summary>
    [Parameter]
    [ValidateRange(1, 86400)]
    public int TimeoutSeconds { get; set; } = 60;

    [Parameter]
    [ValidateRange(1, 300)]
    public int ConnectTimeoutSeconds { get; set; } = 15;

    /// <summary>
    /// Write the output line by line as it arrives (strings; standard error shown on the console, not
    /// in the output) instead of one GpuCommandResult per host at the end. With several hosts each
    /// line starts with "name: ". $LASTEXITCODE holds the highest exit code; a non-zero one is also an error.
    /// </summary>
    [Parameter]
    public SwitchParameter Stream { get; set; }

    protected override void EndProcessing()
    {
        using var connector = NewConnector(new ConnectOptions(false, TimeSpan.FromSeconds(ConnectTimeoutSeconds)));
        if (Stream || (Hosts.Count == 1 && !InformationHidden)) { RunLive(connector, Stream); return; }
        FanOut(async (host, ct) =>
        {
            var conn = (await connector.OpenAsync(host, ct, resolvePaths: false, overSsh: true).ConfigureAwait(false)).Connection;
            return await CommandRunner.RunAsync(conn, host.Name, Command, TimeoutSeconds, ct).ConfigureAwait(false);
        }, "Running command on GPU hosts");
    }

    /// <summary>-InformationAction Ignore or SilentlyContinue: the console shows no lines, so the result's view must.</summary>
    bool InformationHidden => MyInvocation.BoundParameters.TryGetValue("InformationAction", out var a) && a is ActionPreference.Ignore or ActionPreference.SilentlyContinue;

    /// <summary>
    /// Lines as the box prints them: with -Stream as strings in the pipeline (standard error on the
    /// console) and $LASTEXITCODE; for one host without it on the console (like ssh), followed by the
    /// result object.
    /// </summary>
    void RunLive(HostConnector connector, bool stream)
    {
        var lines = new System.Collections.Concurrent.ConcurrentQueue<(string Text, bool Error)>();
        var prefix = Hosts.Count > 1;
        void Drain()
        {
            while (lines.TryDequeue(out var l))
            {
                if (stream && !l.Error) WriteObject(l.Text);
                else WriteInformation(new HostInformationMessage { Message = l.Text }, new[] { l.Error ? "stderr" : "stdout", "PSHOST" });
            }
        }
        int worst = 0;
        foreach (var r in FanOut(Hosts.ToList(), ThrottleLimit, async (host, ct) =>
        {
            var conn = (await connector.OpenAsync(host, ct, resolvePaths: false, overSsh: true).ConfigureAwait(false)).Connection;
            return await CommandRunner.RunLiveAsync(conn, host.Name, Command, TimeoutSeconds,
                (text, error) => lines.Enqueue(((prefix ? host.Name + ": " : "") + text, error)), keepText: !stream, ct).ConfigureAwait(false);
        }, Drain))
        {
            Drain();
            if (r.Error is not null) { WriteFailure(r.Error, r.Item.Name); worst = Math.Max(worst, 255); continue; }
            if (!stream) { WriteObject(r.Value); continue; }
            var code = r.Value!.ExitCode ?? 255;
            worst = Math.Max(worst, code);
            if (code != 0) WriteFailure(new RgtException("RemoteCommandFailed", FailureKind.OperationFailed, $"{r.Item.Name}: the command exited with {code}."), r.Item.Name);
        }
        Drain();
        if (stream) SessionState.PSVariable.Set("global:LASTEXITCODE", worst);
    }
}
