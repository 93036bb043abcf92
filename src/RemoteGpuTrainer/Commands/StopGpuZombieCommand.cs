using System.Management.Automation;
using RemoteGpuTrainer.Engine;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Probes;
using RemoteGpuTrainer.Engine.Ssh;

namespace RemoteGpuTrainer.Commands;

/// <summary>Kills VRAM zombies (SIGKILL) after re-checking each one on the box.</summary>
[Cmdlet(VerbsLifecycle.Stop, "GpuZombie", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High, DefaultParameterSetName = ByZombie)]
[OutputType(typeof(GpuZombie))]
public sealed class StopGpuZombieCommand : SshCmdlet
{
    const string ByHealth = "ByHealth";
    const string ByZombie = "ByZombie";
    const string ByPid = "ByPid";

    readonly List<GpuZombie> _zombies = new();
    readonly List<(string Name, int Pid)> _pids = new();

    [Parameter(ParameterSetName = ByHealth, Mandatory = true, ValueFromPipeline = true)]
    public GpuHealth[] Health { get; set; } = Array.Empty<GpuHealth>();

    [Parameter(ParameterSetName = ByZombie, Mandatory = true, ValueFromPipeline = true)]
    public GpuZombie[] Zombie { get; set; } = Array.Empty<GpuZombie>();

    [Parameter(ParameterSetName = ByPid, Mandatory = true, Position = 0)]
    [ArgumentCompleter(typeof(HostNameCompleter))]
    public string Name { get; set; } = "";

    [Parameter(ParameterSetName = ByPid, Mandatory = true, Position = 1)]
    public int[] Pid { get; set; } = Array.Empty<int>();

    /// <summary>A process younger than this is never killed (default 120 s).</summary>
    [Parameter]
    [Duration]
    public TimeSpan MinimumAge { get; set; } = HealthProbe.DefaultZombieAge;

    [Parameter]
    [ValidateRange(1, 1024)]
    public int ThrottleLimit { get; set; } = 32;

    protected override void ProcessRecord()
    {
        switch (ParameterSetName)
        {
            case ByHealth: foreach (var h in Health) _zombies.AddRange(h.Zombie); break;
            case ByZombie: _zombies.AddRange(Zombie); break;
            case ByPid: foreach (var p in Pid) _pids.Add((Name, p)); break;
        }
    }

    protected override void EndProcessing()
    {
        IReadOnlyList<GpuHost> inventory;
        try { inventory = Inventory.Load(); }
        catch (RgtException ex) { ThrowFailure(ex, Inventory.FilePath); return; }
        using var connector = NewConnector();

        // -Name/-Pid: look the PIDs up with a fresh probe (every host at once); only what it calls a zombie can be killed.
        var lookups = new List<(GpuHost Host, List<int> Pids)>();
        foreach (var group in _pids.GroupBy(p => p.Name, StringComparer.OrdinalIgnoreCase))
            if (FindHost(inventory, group.Key) is { } host) lookups.Add((host, group.Select(p => p.Pid).ToList()));
        var options = new HealthOptions(ZombieMinimumAge: MinimumAge);
        foreach (var r in FanOut(lookups, ThrottleLimit, async (l, ct) =>
        {
            var (shell, host, _) = await connector.OpenAsync(l.Host, ct).ConfigureAwait(false);
            var output = await shell.RunAsync(HealthProbe.Script(host, options), TimeSpan.FromSeconds(60), ct).ConfigureAwait(false);
            return HealthProbe.Parse(host, output.StdOut, options, DateTimeOffset.Now);
        }))
        {
            if (r.Error is not null) { WriteFailure(r.Error, r.Item.Host.Name); continue; }
            foreach (var pid in r.Item.Pids)
            {
                var z = r.Value!.Zombie.FirstOrDefault(x => x.Pid == pid);
                if (z is not null) _zombies.Add(z);
                else WriteObject(new GpuZombie { Name = r.Item.Host.Name, Pid = pid, Killed = false, Reason = "skipped: not a zombie (visible to nvidia-smi, younger than the minimum age, holding no GPU device file, or nvidia-smi could not list its apps)" });
            }
        }

        var confirmed = new List<GpuZombie>();
        foreach (var z in _zombies)
        {
            if (z.Age < MinimumAge)
            {
                WriteObject(z with { Killed = false, Reason = "skipped: younger than the minimum age" });
                continue;
            }
            if (ShouldProcess($"{z.Name}: PID {z.Pid} \"{z.Command}\" (holds {string.Join(", ", z.DeviceFiles)})", "Kill with SIGKILL")) confirmed.Add(z);
        }
        var byHost = confirmed.GroupBy(z => z.Name, StringComparer.OrdinalIgnoreCase).ToList();
        var work = new List<(GpuHost Host, List<GpuZombie> Zombies)>();
        foreach (var g in byHost)
        {
            if (FindHost(inventory, g.Key) is { } host) work.Add((host, g.ToList()));
        }
        foreach (var r in FanOut(work, ThrottleLimit, async (w, ct) =>
        {
            var shell = (await connector.OpenAsync(w.Host, ct, resolvePaths: false).ConfigureAwait(false)).Shell;
            var output = await shell.RunAsync(ZombieKiller.Script(w.Zombies, MinimumAge), TimeSpan.FromSeconds(60), ct).ConfigureAwait(false);
            return ZombieKiller.Parse(w.Zombies, output.StdOut);
        }))
        {
            if (r.Error is not null) { WriteFailure(r.Error, r.Item.Host.Name); continue; }
            foreach (var z in r.Value!) WriteObject(z);
        }
    }
}
