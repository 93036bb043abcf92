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

    protected override void EndProcessing()
    {
        var hosts = ResolveHostNames(Name).Select(h => h.Name).Distinct().ToList();
        if (hosts.Count == 0) return;
        var manifest = ModuleReference();
        var log = LogPath is null ? Path.Combine(ConfigPaths.ConfigDirectory, "patrol.log") : GetUnresolvedProviderPathFromPSPath(LogPath);
        try
        {
            var pwsh = PwshCommand();
            var notifyName = Notify is null ? null : WebhookStore.NameFor(Notify);
            if (OperatingSystem.IsWindows())
            {
                var cmd = PatrolScheduler.WindowsCommand(hosts, Every, At, pwsh, manifest, notifyName, log);
                if (!ShouldProcess(cmd, $"Create the Scheduled Task: {cmd}", "Register-GpuPatrol")) return;
                if (Notify is not null) WebhookStore.Save(Notify);
                WriteObject(PatrolScheduler.RegisterWindowsTask(hosts, Every, cmd, log, PatrolScheduler.RunCmd));
                return;
            }
            var line = PatrolScheduler.CronLine(hosts, Every, At, pwsh, manifest, notifyName, log, Environment.GetEnvironmentVariable("RGT_HOME"));
            if (!ShouldProcess(line, $"Add this line to the crontab: {line}", "Register-GpuPatrol")) return;
            Directory.CreateDirectory(Path.GetDirectoryName(log)!);
            if (Notify is not null) WriteVerbose($"The webhook ({WebhookStore.Describe(Notify)}) is stored as '{WebhookStore.Save(Notify)}' in {WebhookStore.Directory} (mode 600).");
            var current = PatrolScheduler.ReadCrontab();
            var id = PatrolScheduler.IdFor(hosts);
            var next = PatrolScheduler.Without(current, new[] { id }).TrimEnd('\n');
            PatrolScheduler.WriteCrontab((next.Length == 0 ? "" : next + "\n") + line + "\n");
            WriteObject(PatrolScheduler.Parse(line).Single());
        }
        catch (RgtException ex) { ThrowFailure(ex, string.Join(",", hosts)); }
    }

    /// <summary>
    /// How cron should start PowerShell: this pwsh when it is an installed one; when this is the dotnet
    /// tool (dotnet pwsh.dll inside the NuGet cache, which a cache clean removes), an installed pwsh on
    /// the PATH if there is one, else the tool with a warning.
    /// </summary>
    string PwshCommand()
    {
        var process = Environment.ProcessPath ?? "pwsh";
        if (Path.GetFileNameWithoutExtension(process) != "dotnet") return Engine.Text.ShellQuote.Quote(process);
        // pwsh puts its own folder on the PATH: that one is the tool in the NuGet cache, not an installed pwsh.
        var toolHome = Path.GetDirectoryName(typeof(System.Management.Automation.PSObject).Assembly.Location)!;
        var installed = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Where(d => !string.Equals(Path.GetFullPath(d).TrimEnd(Path.DirectorySeparatorChar), toolHome.TrimEnd(Path.DirectorySeparatorChar), StringComparison.Ordinal))
            .Select(d => Path.Combine(d, OperatingSystem.IsWindows() ? "pwsh.exe" : "pwsh")).FirstOrDefault(File.Exists);
        if (installed is not null) return Engine.Text.ShellQuote.Quote(installed);
        var dll = Path.Combine(toolHome, "pwsh.dll");
        WriteWarning($"The schedule runs PowerShell from {dll}, inside the NuGet cache (a cache clean removes it). Install PowerShell (pwsh) and register the patrol again for a stable path.");
        return $"{Engine.Text.ShellQuote.Quote(process)} {Engine.Text.ShellQuote.Quote(dll)}";
    }

    /// <summary>The module by name when it is installed in a PSModulePath folder, else its manifest's full path.</summary>
    static string ModuleReference()
    {
        var moduleBase = Path.GetDirectoryName(typeof(RgtCmdlet).Assembly.Location)!;
        var roots = (Environment.GetEnvironmentVariable("PSModulePath") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);
        return roots.Any(r => moduleBase.StartsWith(Path.GetFullPath(r).TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            ? "RemoteGpuTrainer"
            : Path.Combine(moduleBase, "RemoteGpuTrainer.psd1");
    }
}
