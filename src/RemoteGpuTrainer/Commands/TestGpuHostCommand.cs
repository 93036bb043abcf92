using System.Management.Automation;
using RemoteGpuTrainer.Engine;
using RemoteGpuTrainer.Engine.Hosts;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Probes;
using RemoteGpuTrainer.Engine.Ssh;

namespace RemoteGpuTrainer.Commands;

/// <summary>Connects to each host (host key verified) and reports GPUs, driver, CUDA, Python, tmux and disks in one round trip.</summary>
[Cmdlet(VerbsDiagnostic.Test, "GpuHost", DefaultParameterSetName = AllHosts)]
[OutputType(typeof(GpuHostTest))]
public sealed class TestGpuHostCommand : HostCmdlet
{
    /// <summary>Record an unknown host key in known_hosts instead of refusing (a changed key is always refused).</summary>
    [Parameter]
    public SwitchParameter TrustOnFirstUse { get; set; }

    [Parameter]
    [ValidateRange(1, 300)]
    public int ConnectTimeoutSeconds { get; set; } = 15;

    [Parameter]
    [ValidateRange(1, 3600)]
    public int TimeoutSeconds { get; set; } = 60;

    protected override void EndProcessing()
    {
        using var connector = NewConnector(new ConnectOptions(TrustOnFirstUse, TimeSpan.FromSeconds(ConnectTimeoutSeconds)));
        FanOut(async (h, ct) =>
        {
            var session = await connector.OpenAsync(h, ct, overSsh: true).ConfigureAwait(false);
            var (conn, host) = (session.Connection, session.Host);
            var output = await conn.RunAsync(HostTestProbe.Script(host), TimeSpan.FromSeconds(TimeoutSeconds), ct).ConfigureAwait(false);
            var test = HostTestProbe.Parse(host, output.StdOut, conn.HostKeyFingerprint, conn.ConnectLatency, DateTimeOffset.Now);
            // Rounded to the minute: /proc/uptime drifts against the clock by fractions of a second.
            if (test.Uptime is { } up) new BootTimes().Record(host.Name, new DateTimeOffset((test.CheckedAt - up).Ticks / TimeSpan.TicksPerMinute * TimeSpan.TicksPerMinute, test.CheckedAt.Offset));
            return test;
        }, "Testing GPU hosts", (h, ex) => GpuHostTest.Unreachable(h.Name, ex is RgtException r ? r.ErrorId : "UnexpectedFailure", ex.Message, DateTimeOffset.Now));
    }
}
