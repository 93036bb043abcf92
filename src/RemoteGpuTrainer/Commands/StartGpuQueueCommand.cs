using System.Management.Automation;
using RemoteGpuTrainer.Engine;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Queues;
using RemoteGpuTrainer.Engine.Recovery;
using RemoteGpuTrainer.Engine.Ssh;

namespace RemoteGpuTrainer.Commands;

/// <summary>
/// Freezes a queue file and a versioned launcher on each host and starts it detached (tmux, else setsid
/// nohup); on a Slurm host each cell becomes a batch job (or the cells one job array).
/// </summary>
[Cmdlet(VerbsLifecycle.Start, "GpuQueue", SupportsShouldProcess = true, DefaultParameterSetName = ByName)]
[OutputType(typeof(GpuQueue))]
public sealed class StartGpuQueueCommand : HostCmdlet
{
    [Parameter(Mandatory = true)]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    /// <summary>For seed-form lines: placeholders {config} {task} {epochs} {name} {checkpoint_dir} {log}.</summary>
    [Parameter]
    public string? CommandTemplate { get; set; }

    /// <summary>Where cells run on the box; default the host's DataDir.</summary>
    [Parameter]
    public string? WorkingDirectory { get; set; }

    /// <summary>Run from this cell number on (1-based), re-running cells from there even if they succeeded.</summary>
    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int? StartAt { get; set; }

    /// <summary>Auto: Slurm on a host whose platform is a Slurm cluster, else tmux, else nohup.</summary>
    [Parameter]
    [ValidateSet("Auto", "Tmux", "Nohup", "Slurm")]
    public string Detach { get; set; } = "Auto";

    /// <summary>Slurm: GPUs per cell's job (--gres=gpu:N); Slurm sets CUDA_VISIBLE_DEVICES.</summary>
    [Parameter]
    [ValidateRange(1, 64)]
    public int? GpusPerCell { get; set; }

    /// <summary>Slurm: each job's wall-time limit (--time), e.g. 2h, 90m, 1.5d.</summary>
    [Parameter]
    [Duration]
    public TimeSpan? TimeLimit { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Partition { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Account { get; set; }

    /// <summary>Slurm: more sbatch options, one per element, passed through as given (e.g. '--mem=32G', '--qos=long').</summary>
    [Parameter]
    public string[] SbatchOption { get; set; } = System.Array.Empty<string>();

    /// <summary>Slurm: submit the cells as one job array instead of one job each.</summary>
    [Parameter]
    public SwitchParameter Array { get; set; }

    /// <summary>Default: the queue file's name without extension.</summary>
    [Parameter]
    [ValidatePattern("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    public string? QueueId { get; set; }

    /// <summary>
    /// Records a recovery policy with the queue: while its cells run, every Wait-GpuJob and Invoke-GpuPatrol
    /// tick mirrors each running cell's newest checkpoint (latest.pth, and best.pth when it changes) to
    /// -MirrorPath, verified and safe to open, so a rental taken back loses at most one tick of training.
    /// </summary>
    [Parameter]
    public SwitchParameter Recover { get; set; }

    /// <summary>With -Recover: how many times Invoke-GpuPatrol -Recover may recover the queue (default 3).</summary>
    [Parameter]
    [ValidateRange(0, 100)]
    public int MaxRecoveries { get; set; } = 3;

    /// <summary>With -Recover: the most all rentals of this queue may cost together, in the provider's currency.</summary>
    [Parameter]
    [ValidateRange(0.0, 1000000.0)]
    public decimal? MaxSpend { get; set; }

    /// <summary>With -Recover: where the mirrored checkpoints go; default mirror/ in the config directory (RGT_HOME).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? MirrorPath { get; set; }

    /// <summary>
    /// With -Recover: the offers a box taken back is replaced from (their providers, the first one's GPU and
    /// count, the dearest price as the cap). Default: the search the rental was created with.
    /// </summary>
    [Parameter]
    public GpuOffer[]? RecoverFrom { get; set; }

    /// <summary>With -Recover: how long the provider may take to start a taken rental again before the next offer is rented (default 10 minutes; 0: rent at once).</summary>
    [Parameter]
    [Duration]
    public TimeSpan RestartWithin { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>With -Recover: a local shell script run (by bash, in the working directory) on a newly rented box before the cells go on there.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? SetupScript { get; set; }

    /// <summary>With -Recover: local files and folders sent to a newly rented box's working directory (a folder's contents go there) before the setup script runs.</summary>
    [Parameter]
    public string[] Sync { get; set; } = System.Array.Empty<string>();

    protected override void EndProcessing()
    {
        var file = GetUnresolvedProviderPathFromPSPath(Path);
        IReadOnlyList<QueueCell> cells;
        string queueText;
        try
        {
            if (!File.Exists(file)) throw new RgtException("QueueFileNotFound", FailureKind.NotFound, $"The queue file {file} does not exist.");
            queueText = File.ReadAllText(file);
            cells = QueueFile.Parse(queueText, file, CommandTemplate);
        }
        catch (RgtException ex) { ThrowFailure(ex, file); return; }
        var recovery = Recover ? new RecoveryOptions(MirrorPath is null ? null : GetUnresolvedProviderPathFromPSPath(MirrorPath), MaxRecoveries, MaxSpend, RecoverFrom,
            RestartWithin, SetupScript is null ? null : GetUnresolvedProviderPathFromPSPath(SetupScript), Sync.Select(GetUnresolvedProviderPathFromPSPath).ToList()) : null;
        try { recovery?.Check(); }
        catch (RgtException ex) { ThrowFailure(ex, SetupScript ?? string.Join(",", Sync)); return; }
        if (Hosts.Count == 0) return;
        var queueId = QueueId ?? LaunchPlan.QueueIdFor(file);
        var split = QueueFile.Split(cells, Hosts.Count);
        var slurmAsked = GpusPerCell is not null || TimeLimit is not null || Partition is not null || Account is not null || SbatchOption.Length > 0 || Array;
        var plans = new List<(GpuHost Host, LaunchPlan Plan)>();
        for (int i = 0; i < Hosts.Count; i++)
        {
            var owned = split[i];
            WriteInformation(new HostInformationMessage
            {
                Message = $"{Hosts[i].Name}: queue '{queueId}', {owned.Count} of {cells.Count} cells (cost {owned.Sum(c => c.Cost)}): {string.Join(", ", owned.Select(c => $"{c.Index}:{c.Name}"))}",
            }, new[] { "PSHOST" });
            if (owned.Count == 0) continue;
            string detach;
            try { detach = LaunchPlan.DetachFor(Hosts[i], Detach, Catalog.Find(Hosts[i].Platform)?.IsSlurm == true, slurmAsked); }
            catch (RgtException ex) { WriteFailure(ex, Hosts[i].Name); continue; }
            if (!ShouldProcess(Hosts[i].Name, detach == "Slurm" ? $"Submit queue '{queueId}' to Slurm ({owned.Count} cells{(Array ? ", one job array" : ", one job each")})" : $"Launch queue '{queueId}' ({owned.Count} cells, detach {detach})")) continue;
            plans.Add((Hosts[i], new LaunchPlan(queueId, cells, owned, StartAt ?? 1, detach, WorkingDirectory)
            {
                Slurm = detach == "Slurm" ? new SlurmOptions(GpusPerCell, TimeLimit, Partition, Account, SbatchOption, Array) : null,
            }));
        }
        using var connector = NewConnector();
        var defaults = plans.ToDictionary(p => p.Host.Name, p => GpuPlatformDefaults.From(Catalog.Find(p.Host.Platform)), StringComparer.OrdinalIgnoreCase);
        foreach (var r in FanOut(plans, ThrottleLimit, async (p, ct) =>
        {
            var (shell, host, _) = await connector.OpenAsync(p.Host, ct).ConfigureAwait(false);
            var plan = p.Plan.WorkingDirectory is { } wd ? p.Plan with { WorkingDirectory = await connector.ResolvePathAsync(host, wd, ct).ConfigureAwait(false) } : p.Plan;
            return await QueueService.StartAsync(shell, host, defaults[host.Name], plan, StartAt, ct).ConfigureAwait(false);
        }))
        {
            if (r.Error is not null) WriteFailure(r.Error, r.Item.Host.Name);
            else
            {
                new QueueCache().Record(r.Value!.Name, r.Value.Cells.Select(c => (r.Value.QueueId, c)));
                if (recovery is not null)
                {
                    var policy = RecoveryPolicy.ForLaunch(r.Item.Host, r.Value.QueueId, defaults[r.Value.Name], recovery, RelaunchSpec.Of(queueText, file, CommandTemplate, r.Item.Plan), DateTimeOffset.Now);
                    new RecoveryStore().Start(policy);
                    WriteVerbose($"{r.Value.Name}: queue '{r.Value.QueueId}' mirrors {string.Join(" and ", policy.Artifacts)} of its running cells to {policy.MirrorRoot} on every Wait-GpuJob and Invoke-GpuPatrol tick.");
                }
                foreach (var w in r.Value.Warnings) WriteWarning(w);
                WriteObject(r.Value);
            }
        }
    }
}
