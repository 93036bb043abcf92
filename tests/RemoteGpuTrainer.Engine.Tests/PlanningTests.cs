using RemoteGpuTrainer.Engine.Planning;
using Xunit;

namespace RemoteGpuTrainer.Engine.Tests;

public class PlanningTests
{
    [Fact]
    public void Young_Daly_worked_example()
    {
        var r = CheckpointPlanner.Interval(TimeSpan.FromHours(3), TimeSpan.FromSeconds(30), 2, 1, null);
        Assert.Equal(805, r.Interval.TotalSeconds);
        Assert.Equal(402, r.Iterations);
        Assert.Equal(400, r.SuggestedIterations);
        var four = CheckpointPlanner.Interval(TimeSpan.FromHours(3), TimeSpan.FromSeconds(30), null, 4, null);
        Assert.Equal(Math.Round(805 / 2.0, MidpointRounding.ToEven), four.Interval.TotalSeconds, 0);
        Assert.Throws<RgtException>(() => CheckpointPlanner.Interval(TimeSpan.Zero, TimeSpan.FromSeconds(1), null, 1, null));
    }

    [Theory]
    [InlineData(30, 3, "3,33 * * * *")]
    [InlineData(15, 7, "7,22,37,52 * * * *")]
    [InlineData(60, 3, "3 * * * *")]
    [InlineData(120, 5, "5 */2 * * *")]
    public void Cron_times_are_offset_from_the_hour(int minutes, int at, string expected) =>
        Assert.Equal(expected, PatrolScheduler.CronTimes(TimeSpan.FromMinutes(minutes), at));

    [Fact]
    public void Uneven_intervals_are_refused() =>
        Assert.Equal("ScheduleInvalid", Assert.Throws<RgtException>(() => PatrolScheduler.CronTimes(TimeSpan.FromMinutes(7), 3)).ErrorId);

    [Fact]
    public void Cron_line_is_tagged_quoted_and_escapes_percent()
    {
        var line = PatrolScheduler.CronLine(new[] { "autodl-1", "box's" }, TimeSpan.FromMinutes(30), 3, "/usr/bin/pwsh", "/m/RemoteGpuTrainer.psd1", "hooks.example-1%2f", "/var/log/p 1.log", "/cfg");
        Assert.StartsWith("3,33 * * * * RGT_HOME='/cfg' /usr/bin/pwsh -NoProfile", line);
        Assert.EndsWith("# rgt-patrol:autodl-1+box_s", line);
        Assert.Contains("-NotifyName '\\''hooks.example-1\\%2f'\\''", line);
        Assert.Contains(">> '/var/log/p 1.log' 2>&1", line);
        var parsed = Assert.Single(PatrolScheduler.Parse(line));
        Assert.Equal("3,33 * * * *", parsed.Schedule);
        Assert.Equal("/var/log/p 1.log", parsed.LogPath);
    }

    [Fact]
    public void Removing_keeps_every_other_line_byte_for_byte()
    {
        var other = "# my jobs\nMAILTO=me@example.invalid\n0 * * * * /usr/bin/backup --all  # rgt-patrol-look-alike-but-not\n";
        var ours = "3,33 * * * * pwsh -Command 'x' >> '/l' 2>&1 # rgt-patrol:a\n3,33 * * * * pwsh -Command 'y' >> '/l' 2>&1 # rgt-patrol:b\n";
        var table = other + ours;
        Assert.Equal(other + "3,33 * * * * pwsh -Command 'y' >> '/l' 2>&1 # rgt-patrol:b\n", PatrolScheduler.Without(table, new[] { "a" }));
        Assert.Equal(other, PatrolScheduler.Without(table, null));
        Assert.Equal(2, PatrolScheduler.Parse(table).Count());
    }

    [Fact]
    public void Windows_scheduled_task_command()
    {
        var cmd = PatrolScheduler.WindowsCommand(new[] { "autodl-1" }, TimeSpan.FromMinutes(30), 3, "pwsh.exe", @"C:\m\RemoteGpuTrainer.psd1", null, @"C:\l\patrol.log");
        Assert.StartsWith("schtasks.exe /Create /F /TN \"RemoteGpuTrainer\\patrol-autodl-1\" /SC MINUTE /MO 30 /ST 00:03 /TR \"", cmd);
        Assert.Contains("Invoke-GpuPatrol -Name 'autodl-1' -AsExitCode", cmd);
        Assert.Contains(@"C:\l\patrol.log", cmd);
    }

    [Fact]
    public void A_scheduled_task_that_schtasks_refused_is_an_error_never_a_schedule()
    {
        var hosts = new[] { "autodl-1" };
        var ran = new List<string>();
        var ex = Assert.Throws<RgtException>(() => PatrolScheduler.RegisterWindowsTask(hosts, TimeSpan.FromMinutes(30), "schtasks.exe /Create …", @"C:\l\patrol.log",
            c => { ran.Add(c); return (1, "ERROR: Access is denied.\r\n"); }));
        Assert.Equal("PatrolRegisterFailed", ex.ErrorId);
        Assert.Contains("(exit 1): ERROR: Access is denied.", ex.Message);
        Assert.Equal(new[] { "schtasks.exe /Create …" }, ran);
        var ok = PatrolScheduler.RegisterWindowsTask(hosts, TimeSpan.FromMinutes(30), "schtasks.exe /Create …", @"C:\l\patrol.log", _ => (0, "SUCCESS: The scheduled task was created."));
        Assert.Equal("autodl-1", ok.Id);
        Assert.Equal("schtasks.exe /Create …", ok.Entry);
    }
}

public class PatrolLauncherTests
{
    const string ToolHome = "/root/.nuget/packages/powershell/7.6.9/tools/net10.0/any/unix";

    [Fact]
    public void An_installed_pwsh_runs_the_schedule_as_it_is()
    {
        var (command, warning) = Planning.PatrolScheduler.PwshCommand("/opt/microsoft/powershell/7/pwsh", ToolHome, "/usr/bin", false, _ => true);
        Assert.Equal(Text.ShellQuote.Quote("/opt/microsoft/powershell/7/pwsh"), command);
        Assert.Null(warning);
    }

    [Fact]
    public void The_dotnet_tool_prefers_an_installed_pwsh_on_the_path_but_never_its_own_folder()
    {
        var exists = new HashSet<string> { ToolHome + "/pwsh", "/opt/pwsh/pwsh" };
        var (command, warning) = Planning.PatrolScheduler.PwshCommand("/usr/share/dotnet/dotnet", ToolHome, $"{ToolHome}:/usr/local/bin:/opt/pwsh", false, exists.Contains);
        Assert.Equal(Text.ShellQuote.Quote("/opt/pwsh/pwsh"), command);
        Assert.Null(warning);
    }

    [Fact]
    public void Without_an_installed_pwsh_the_tool_runs_it_and_the_user_is_warned_of_the_cache()
    {
        var (command, warning) = Planning.PatrolScheduler.PwshCommand("/usr/share/dotnet/dotnet", ToolHome, $"{ToolHome}:/usr/bin", false, p => p == ToolHome + "/pwsh");
        Assert.Equal($"{Text.ShellQuote.Quote("/usr/share/dotnet/dotnet")} {Text.ShellQuote.Quote(ToolHome + "/pwsh.dll")}", command);
        Assert.Contains("NuGet cache", warning);
    }

    [Fact]
    public void The_module_is_named_when_installed_and_given_by_its_manifest_when_not()
    {
        Assert.Equal("RemoteGpuTrainer", Planning.PatrolScheduler.ModuleReference("/home/u/.local/share/powershell/Modules/RemoteGpuTrainer/0.1.0", "/opt/x:/home/u/.local/share/powershell/Modules"));
        // A folder whose name merely starts like a module folder is not inside it.
        Assert.Equal("/home/u/.local/share/powershell/Modules2/RemoteGpuTrainer/RemoteGpuTrainer.psd1",
            Planning.PatrolScheduler.ModuleReference("/home/u/.local/share/powershell/Modules2/RemoteGpuTrainer", "/home/u/.local/share/powershell/Modules"));
        Assert.Equal("/work/out/RemoteGpuTrainer/RemoteGpuTrainer.psd1", Planning.PatrolScheduler.ModuleReference("/work/out/RemoteGpuTrainer", null));
    }
}
