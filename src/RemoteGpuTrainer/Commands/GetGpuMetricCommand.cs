using System.Management.Automation;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Monitoring;

namespace RemoteGpuTrainer.Commands;

/// <summary>The sampler's ticks as typed samples: pulls only the lines not read before, then returns the window asked for.</summary>
[Cmdlet(VerbsCommon.Get, "GpuMetric", DefaultParameterSetName = AllHosts)]
[OutputType(typeof(GpuMetricSample))]
public sealed class GetGpuMetricCommand : HostCmdlet
{
    /// <summary>Samples from this time on.</summary>
    [Parameter]
    public DateTime? Since { get; set; }

    /// <summary>Samples of the last 10m, 2h, 1d.</summary>
    [Parameter]
    [Duration]
    public TimeSpan? Last { get; set; }

    /// <summary>Use what was pulled before, without connecting.</summary>
    [Parameter]
    public SwitchParameter Offline { get; set; }

    protected override void EndProcessing()
    {
        DateTimeOffset? since = Since is { } s ? new DateTimeOffset(s) : Last is { } l ? DateTimeOffset.Now - l : null;
        using var connector = NewConnector();
        foreach (var r in FanOut(Hosts, ThrottleLimit, async (h, ct) =>
        {
            if (!Offline)
            {
                var (shell, host, _) = await connector.OpenAsync(h, ct).ConfigureAwait(false);
                var output = await shell.RunAsync(MonitorScripts.Read(host, MetricStore.Cursor(host.Name)), TimeSpan.FromMinutes(5), ct).ConfigureAwait(false);
                var added = MetricStore.Append(host, output);
                VerboseLog($"{host.Name}: {added} new sample line(s) pulled");
            }
            return MetricStore.Samples(h.Name, since);
        }))
        {
            if (r.Error is not null) { WriteFailure(r.Error, r.Item.Name); continue; }
            if (r.Value!.Count == 0) WriteWarning($"{r.Item.Name}: no samples{(since is null ? "" : $" since {since:yyyy-MM-dd HH:mm}")}: start the sampler with Start-GpuMonitor {r.Item.Name}.");
            WriteObject(r.Value, enumerateCollection: true);
        }
    }
}
