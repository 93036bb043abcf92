using RemoteGpuTrainer.Engine.Hosts;
using System.Management.Automation;
using RemoteGpuTrainer.Engine;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Rentals;
using RemoteGpuTrainer.Engine.Ssh;

namespace RemoteGpuTrainer.Commands;

/// <summary>Prepares hosts for queues: an environment file (caches on the data disk, mirrors, no_proxy) and optionally tmux.</summary>
[Cmdlet(VerbsData.Initialize, "GpuHost", SupportsShouldProcess = true, DefaultParameterSetName = ByName)]
[OutputType(typeof(GpuHostSetup))]
public sealed class InitializeGpuHostCommand : HostCmdlet
{
    /// <summary>Use mirrors that work behind the GFW: hf-mirror.com for Hugging Face, a TUNA pip index.</summary>
    [Parameter]
    public SwitchParameter ChinaMirror { get; set; }

    /// <summary>Install tmux with apt-get when it is missing and the login is root.</summary>
    [Parameter]
    public SwitchParameter InstallTmux { get; set; }

    protected override void EndProcessing()
    {
        var targets = Hosts.Where(h =>
        {
            if (string.IsNullOrEmpty(h.DataDir)) { WriteFailure(new RgtException("DataDirMissing", FailureKind.InvalidArgument, $"{h.Name} has no DataDir; set one, e.g. Set-GpuHost {h.Name} -DataDir '$HOME/proj' (resolved on the box)."), h.Name); return false; }
            return ShouldProcess(h.Name, $"Write {HostSetup.EnvPath(h)}{(InstallTmux ? " and install tmux if missing" : "")}");
        }).ToList();
        using var connector = NewConnector();
        foreach (var r in FanOut(targets, ThrottleLimit, async (h, ct) =>
        {
            var (shell, host, _) = await connector.OpenAsync(h, ct).ConfigureAwait(false);
            var output = await shell.RunAsync(HostSetup.Script(host, ChinaMirror, InstallTmux), TimeSpan.FromMinutes(11), ct).ConfigureAwait(false);
            return HostSetup.Parse(host, output.StdOut);
        }))
        {
            if (r.Error is not null) { WriteFailure(r.Error, r.Item.Name); continue; }
            foreach (var n in r.Value!.Notes) WriteWarning($"{r.Item.Name}: {n}");
            WriteObject(r.Value);
        }
    }
}
