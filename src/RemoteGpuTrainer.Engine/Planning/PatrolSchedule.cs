using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using RemoteGpuTrainer.Engine.Model;

namespace RemoteGpuTrainer.Engine.Planning;

/// <summary>Builds, finds and removes the module's own crontab entries; builds the Windows Scheduled Task command.</summary>
public static class PatrolScheduler
{
    public const string Tag = "# rgt-patrol:";
    static readonly Regex IdRx = new(@"[^A-Za-z0-9_.+-]+", RegexOptions.CultureInvariant);

    public static string IdFor(IEnumerable<string> hosts) => IdRx.Replace(string.Join("+", hosts.OrderBy(h => h, StringComparer.Ordinal)), "_");

    /// <summary>Minutes past the hour from an offset: every 30 min at :03 → "3,33 * * * *"; every 2 h → "3 */2 * * *".</summary>
    public static string CronTimes(TimeSpan every, int at)
    {
        if (at is < 0 or > 59) throw new RgtException("ScheduleInvalid", FailureKind.InvalidArgument, "-At is a minute offset from 0 to 59.");
        var minutes = (int)every.TotalMinutes;
        if (minutes >= 1 && minutes < 60 && 60 % minutes == 0 && every.TotalMinutes == minutes)
        {
            var list = Enumerable.Range(0, 60 / minutes).Select(i => (at + i * minutes) % 60).Order();
            return $"{string.Join(',', list)} * * * *";
        }
        if (every.TotalHours >= 1 && every.TotalHours == Math.Floor(every.TotalHours) && 24 % (int)every.TotalHours == 0)
            return (int)every.TotalHours == 1 ? $"{at} * * * *" : $"{at} */{(int)every.TotalHours} * * *";
        throw new RgtException("ScheduleInvalid", FailureKind.InvalidArgument, $"-Every {every} does not divide an hour or a day evenly; use e.g. 0:15, 0:30, 1:00 or 2:00.");
    }

    static string Sq(string s) => Text.ShellQuote.Quote(s);

    /// <summary>The PowerShell command the schedule runs; the webhook goes by its stored name (<see cref="WebhookStore"/>), never its URL.</summary>
    /// <param name="recover">Each tick recovers the queues started with -Recover whose rental was taken back (Invoke-GpuPatrol -Recover).</param>
    public static string PatrolCommand(IReadOnlyList<string> hosts, string manifest, string? notifyName, bool recover = false) =>
        $"Import-Module '{manifest.Replace("'", "''")}'; Invoke-GpuPatrol -Name {string.Join(",", hosts.Select(h => "'" + h.Replace("'", "''") + "'"))} -AsExitCode" +
        (recover ? " -Recover" : "") +
        (notifyName is null ? "" : $" -NotifyName '{notifyName.Replace("'", "''")}'") + " | ForEach-Object Line";

    public static string CronLine(IReadOnlyList<string> hosts, TimeSpan every, int at, string pwsh, string manifest, string? notifyName, string logPath, string? rgtHome, bool recover = false)
    {
        var env = rgtHome is null ? "" : $"RGT_HOME={Sq(rgtHome)} ";
        var line = $"{CronTimes(every, at)} {env}{pwsh} -NoProfile -NonInteractive -Command {Sq(PatrolCommand(hosts, manifest, notifyName, recover))} >> {Sq(logPath)} 2>&1 {Tag}{IdFor(hosts)}";
        return line.Replace("%", "\\%"); // cron turns a bare % into a newline
    }

    /// <summary>The schtasks.exe command line that creates the same patrol on Windows.</summary>
    public static string WindowsCommand(IReadOnlyList<string> hosts, TimeSpan every, int at, string pwsh, string manifest, string? notifyName, string logPath, bool recover = false)
    {
        var run = $"{pwsh} -NoProfile -NonInteractive -Command \"{PatrolCommand(hosts, manifest, notifyName, recover)} *>> '{logPath}'\"";
        var schedule = every.TotalMinutes < 60 ? $"/SC MINUTE /MO {(int)every.TotalMinutes}" : $"/SC HOURLY /MO {(int)every.TotalHours}";
        return $"schtasks.exe /Create /F /TN \"RemoteGpuTrainer\\patrol-{IdFor(hosts)}\" {schedule} /ST 00:{at:00} /TR \"{run.Replace("\"", "\\\"")}\"";
    }

    public static IEnumerable<GpuPatrolSchedule> Parse(string crontab)
    {
        foreach (var line in crontab.Split('\n'))
        {
            var at = line.IndexOf(Tag, StringComparison.Ordinal);
            if (at < 0 || line.TrimStart().StartsWith('#')) continue;
            var id = line[(at + Tag.Length)..].Trim();
            var fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
            var log = Regex.Match(line, @">> '([^']*)' 2>&1");
            yield return new GpuPatrolSchedule
            {
                Id = id, Hosts = id.Split('+'), Schedule = string.Join(' ', fields.Take(5)), Command = fields.Length > 5 ? fields[5][..Math.Max(0, fields[5].IndexOf(Tag, StringComparison.Ordinal))].Trim() : "",
                LogPath = log.Success ? log.Groups[1].Value : null, Entry = line,
            };
        }
    }

    /// <summary>The crontab without our entries for these ids (all of ours when ids is null); other lines stay byte for byte.</summary>
    public static string Without(string crontab, IReadOnlyCollection<string>? ids)
    {
        var kept = crontab.Split('\n').Where(l =>
        {
            var at = l.IndexOf(Tag, StringComparison.Ordinal);
            if (at < 0) return true;
            return ids is not null && !ids.Contains(l[(at + Tag.Length)..].Trim());
        });
        return string.Join('\n', kept);
    }

    /// <summary>
    /// How the schedule starts PowerShell, from this process (<paramref name="processPath"/>) and the folder of
    /// its PowerShell assemblies (<paramref name="psHome"/>): this pwsh when it is an installed one; when it is the
    /// dotnet tool (dotnet pwsh.dll inside the NuGet cache, which a cache clean removes), an installed pwsh on the
    /// PATH if there is one (not pwsh's own folder, which it puts on the PATH itself), else the tool with a warning.
    /// </summary>
    public static (string Command, string? Warning) PwshCommand(string? processPath, string psHome, string? pathVariable, bool windows, Func<string, bool> exists)
    {
        var process = processPath ?? "pwsh";
        if (Path.GetFileNameWithoutExtension(process) != "dotnet") return (Text.ShellQuote.Quote(process), null);
        static string Folder(string d) => Path.GetFullPath(d).TrimEnd(Path.DirectorySeparatorChar);
        var installed = (pathVariable ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Where(d => !string.Equals(Folder(d), Folder(psHome), StringComparison.Ordinal))
            .Select(d => Path.Combine(d, windows ? "pwsh.exe" : "pwsh")).FirstOrDefault(exists);
        if (installed is not null) return (Text.ShellQuote.Quote(installed), null);
        var dll = Path.Combine(psHome, "pwsh.dll");
        return ($"{Text.ShellQuote.Quote(process)} {Text.ShellQuote.Quote(dll)}",
            $"The schedule runs PowerShell from {dll}, inside the NuGet cache (a cache clean removes it). Install PowerShell (pwsh) and register the patrol again for a stable path.");
    }

    /// <summary>The module by name when <paramref name="moduleBase"/> is inside a PSModulePath folder, else its manifest's full path.</summary>
    public static string ModuleReference(string moduleBase, string? psModulePath) =>
        (psModulePath ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Any(r => moduleBase.StartsWith(Path.GetFullPath(r).TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            ? "RemoteGpuTrainer"
            : Path.Combine(moduleBase, "RemoteGpuTrainer.psd1");

    /// <summary>Puts <paramref name="line"/> in the crontab in place of any earlier patrol of the same hosts; the schedule it now holds.</summary>
    public static GpuPatrolSchedule RegisterCron(IReadOnlyList<string> hosts, string line)
    {
        var next = Without(ReadCrontab(), new[] { IdFor(hosts) }).TrimEnd('\n');
        WriteCrontab((next.Length == 0 ? "" : next + "\n") + line + "\n");
        return Parse(line).Single();
    }

    public static string ReadCrontab()
    {
        var (code, stdout, stderr) = Crontab("-l", null);
        if (code == 0) return stdout;
        if (stderr.Contains("no crontab", StringComparison.OrdinalIgnoreCase)) return "";
        throw new RgtException("CrontabFailed", FailureKind.OperationFailed, $"crontab -l failed: {stderr.Trim()}");
    }

    /// <summary>
    /// Creates the Windows Scheduled Task by running <paramref name="command"/> (schtasks, through
    /// <paramref name="run"/>: cmd.exe /c on Windows). A non-zero exit is PatrolRegisterFailed with what
    /// schtasks said, and no schedule is returned: a task that was never created is never reported.
    /// </summary>
    public static GpuPatrolSchedule RegisterWindowsTask(IReadOnlyList<string> hosts, TimeSpan every, string command, string logPath, Func<string, (int Code, string Output)> run)
    {
        var (code, output) = run(command);
        if (code != 0)
            throw new RgtException("PatrolRegisterFailed", FailureKind.OperationFailed,
                $"schtasks did not create the patrol task (exit {code}): {output.Trim()}. Nothing was registered; run the command in an elevated prompt to see why: {command}");
        return new GpuPatrolSchedule { Id = IdFor(hosts), Hosts = hosts.ToArray(), Schedule = $"every {every}", Command = command, LogPath = logPath, Entry = command };
    }

    /// <summary>Runs a command line through cmd.exe /c: its exit code and what it wrote (both streams).</summary>
    public static (int Code, string Output) RunCmd(string command)
    {
        // cmd.exe reads its own command line (no argv escaping): the line goes to it as written.
        ProcessStartInfo psi = new("cmd.exe", "/c " + command) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output.Result + error);
    }

    public static void WriteCrontab(string content)
    {
        if (!content.EndsWith('\n')) content += "\n";
        var (code, _, stderr) = Crontab("-", content);
        if (code != 0) throw new RgtException("CrontabFailed", FailureKind.OperationFailed, $"crontab refused the new table: {stderr.Trim()}");
    }

    static (int Code, string Out, string Err) Crontab(string arg, string? stdin)
    {
        ProcessStartInfo psi = new("crontab") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = stdin is not null, UseShellExecute = false };
        psi.ArgumentList.Add(arg);
        Process p;
        try { p = Process.Start(psi)!; }
        catch (System.ComponentModel.Win32Exception)
        {
            throw new RgtException("CrontabMissing", FailureKind.NotFound, "The crontab command is not installed (Debian: apt-get install cron).");
        }
        using (p)
        {
            if (stdin is not null) { p.StandardInput.Write(stdin); p.StandardInput.Close(); }
            var o = p.StandardOutput.ReadToEnd(); var e = p.StandardError.ReadToEnd();
            p.WaitForExit();
            return (p.ExitCode, o, e);
        }
    }
}
