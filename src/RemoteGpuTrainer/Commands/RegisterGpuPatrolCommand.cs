using System.Management.Automation;
using RemoteGpuTrainer.Engine;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Planning;

namespace RemoteGpuTrainer.Commands;

/// <summary>Installs a recurring patrol: a tagged crontab line on Linux and macOS, a Scheduled Task on Windows.</summary>
[Cmdlet(VerbsLifecycle.Register, "GpuPatrol", SupportsShouldProcess = true)]
[OutputType(typeof(GpuPatrolSchedule))]
public sealed class RegisterGpuPatrolCommand : RgtCmdlet
{
    [Parameter(Mandatory = true, Position = 0)]
    [ArgumentCompleter(typeof(HostNameCompleter))]
    public string[] Name { get; set; } = Array.Empty<string>();

    [Parameter]
    [Duration]
    public TimeSpan Every { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>Minute offset, off the :00 rush.</summary>
    [Parameter]
    [ValidateRange(0, 59)]
    public int At { get; set; } = 3;

    /// <summary>A webhook for each tick's reports. Stored mode 600 in the config directory; the schedule names it, never shows it.</summary>
    [Parameter]
    public Uri? Notify { get; set; }

    /// <summary>Where each tick's line is appended; default patrol.log in the config directory.</summary>
    [Parameter]
    public string? LogPath { get; set; }

    /// <summary>Each tick also recovers the queues started with Start-GpuQueue -Recover whose rental the provider took back (Invoke-GpuPatrol -Recover).</summary>
    [Parameter]
    public SwitchParameter Recover { get; set; }

    protected override void EndProcessing()
    {
        var hosts = ResolveHostNames(Name).Select(h => h.Name).Distinct().ToList();
        if (hosts.Count == 0) return;
        var manifest = PatrolScheduler.ModuleReference(Path.GetDirectoryName(typeof(RgtCmdlet).Assembly.Location)!, Environment.GetEnvironmentVariable("PSModulePath"));
        var log = LogPath is null ? Path.Combine(ConfigPaths.ConfigDirectory, "patrol.log") : GetUnresolvedProviderPathFromPSPath(LogPath);
        try
        {
            var (pwsh, warning) = PatrolScheduler.PwshCommand(Environment.ProcessPath, Path.GetDirectoryName(typeof(PSObject).Assembly.Location)!,
                Environment.GetEnvironmentVariable("PATH"), OperatingSystem.IsWindows(), File.Exists);
            if (warning is not null) WriteWarning(warning);
            var notifyName = Notify is null ? null : WebhookStore.NameFor(Notify);
            if (OperatingSystem.IsWindows())
            {
                var cmd = PatrolScheduler.WindowsCommand(hosts, Every, At, pwsh, manifest, notifyName, log, Recover);
                if (!ShouldProcess(cmd, $"Create the Scheduled Task: {cmd}", "Register-GpuPatrol")) return;
                if (Notify is not null) WebhookStore.Save(Notify);
                WriteObject(PatrolScheduler.RegisterWindowsTask(hosts, Every, cmd, log, PatrolScheduler.RunCmd));
                return;
            }
            var line = PatrolScheduler.CronLine(hosts, Every, At, pwsh, manifest, notifyName, log, Environment.GetEnvironmentVariable("RGT_HOME"), Recover);
            if (!ShouldProcess(line, $"Add this line to the crontab: {line}", "Register-GpuPatrol")) return;
            Directory.CreateDirectory(Path.GetDirectoryName(log)!);
            if (Notify is not null) WriteVerbose($"The webhook ({WebhookStore.Describe(Notify)}) is stored as '{WebhookStore.Save(Notify)}' in {WebhookStore.Directory} (mode 600).");
            WriteObject(PatrolScheduler.RegisterCron(hosts, line));
        }
        catch (RgtException ex) { ThrowFailure(ex, string.Join(",", hosts)); }
    }
}
