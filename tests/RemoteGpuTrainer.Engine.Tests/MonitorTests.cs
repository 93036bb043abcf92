using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Monitoring;
using RemoteGpuTrainer.Engine.Parsing;
using RemoteGpuTrainer.Engine.Scripts;
using Xunit;

namespace RemoteGpuTrainer.Engine.Tests;

/// <summary>The sampler's line format, the forecasts, and monitor.sh / monitor-sampler.sh run by real bash on real files.</summary>
public sealed class MonitorTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("rgt-mon-").FullName;

    public void Dispose()
    {
        QueueFileTests.RunBash($"pkill -f {Text.ShellQuote.Quote(_dir + "/")} ; true");
        Directory.Delete(_dir, true);
    }

    static readonly DateTimeOffset T0 = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);

    static string Line(int second, long used, long? limit = 1L << 30, string cells = "q/a=1000", string gpus = "0:97:1000:81559:300:60:1980") =>
        $"v1,{T0.AddSeconds(second).ToUnixTimeSeconds()},v2,{used},{limit},0,50.0,1.5,1000000,5000,{cells},{gpus}";

    [Fact]
    public void A_sampler_line_reads_as_a_typed_sample_and_a_broken_one_as_nothing()
    {
        var s = MetricLine.Parse("box", "v1,1796126400,v1,500000000,1073741824,2,12.5,0.75,2000000000,90000,sweep/cell a=400000000;sweep/b=5,0:97:19818:81559:631.95:59:1980;1::19818:81559::59:")!;
        Assert.Equal("box", s.Name);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1796126400), s.Time);
        Assert.Equal("v1", s.Cgroup);
        Assert.Equal(500000000, s.MemoryUsedBytes);
        Assert.Equal(1073741824, s.MemoryLimitBytes);
        Assert.Equal(46.6, s.MemoryPercent);
        Assert.Equal(2, s.OomKills);
        Assert.Equal(12.5, s.CpuPercent);
        Assert.Equal(new[] { "sweep/cell a", "sweep/b" }, s.Cells.Select(c => c.Cell));
        Assert.Equal(400000000, s.Cells[0].RssBytes);
        Assert.Equal(2, s.Gpus.Length);
        Assert.Null(s.Gpus[1].UtilPercent);
        Assert.Equal(97, s.GpuUtilPercent);
        Assert.True(s.GpuReadingOk);
        Assert.False(MetricLine.Parse("box", "v1,1796126400,v1,5,,,,,,,,error")!.GpuReadingOk);
        Assert.Null(MetricLine.Parse("box", "v1,1796126400,v1,5")); // cut short
        Assert.Null(MetricLine.Parse("box", "v2,1796126400,v1,5,,,,,,,,none")); // a newer format
    }

    [Fact]
    public void Memory_climbing_toward_the_limit_is_foretold_with_the_time_left_and_a_fix()
    {
        // 900 MiB used, +1 MiB/s, limit 1 GiB: 95 s left after 29 s of ticks.
        var samples = MetricLine.ParseAll("box", Enumerable.Range(0, 30).Select(i => Line(i, (900L << 20) + i * (1L << 20))));
        var f = Assert.Single(Forecast.Findings(samples, new ForecastOptions(), samples[^1].Time));
        Assert.Equal("MemoryForecast", f.Check);
        Assert.Equal("Fail", f.Status); // within a quarter of the 2 h horizon
        Assert.Matches(@"cgroup OOM in ~2 min at the current slope: .* growing 60(\.0)? MiB/min .*q/a RSS", f.Message);
        Assert.Contains("num_workers", f.Message);
        // Beyond the horizon asked for: nothing; within it but beyond a quarter of it: a warning.
        Assert.Empty(Forecast.Findings(samples, new ForecastOptions(OomWithin: TimeSpan.FromMinutes(1)), samples[^1].Time));
        Assert.Equal("Warn", Forecast.Findings(samples, new ForecastOptions(OomWithin: TimeSpan.FromMinutes(5)), samples[^1].Time).Single().Status);
        // The same slope far from the limit: 29 s of ticks do not foretell 7 minutes ahead.
        var far = MetricLine.ParseAll("box", Enumerable.Range(0, 30).Select(i => Line(i, (600L << 20) + i * (1L << 20))));
        Assert.Empty(Forecast.Findings(far, new ForecastOptions(), far[^1].Time));
    }

    [Fact]
    public void No_forecast_without_evidence_flat_memory_few_ticks_stale_ticks_or_no_limit()
    {
        var flat = MetricLine.ParseAll("box", Enumerable.Range(0, 30).Select(i => Line(i, 900L << 20)));
        Assert.Empty(Forecast.Findings(flat, new ForecastOptions(), flat[^1].Time));
        var few = MetricLine.ParseAll("box", Enumerable.Range(0, 9).Select(i => Line(i * 5, (600L << 20) + i * (50L << 20))));
        Assert.Empty(Forecast.Findings(few, new ForecastOptions(), few[^1].Time));
        var rising = MetricLine.ParseAll("box", Enumerable.Range(0, 30).Select(i => Line(i, (600L << 20) + i * (1L << 20))));
        Assert.Empty(Forecast.Findings(rising, new ForecastOptions(), rising[^1].Time.AddHours(1)));
        var unlimited = MetricLine.ParseAll("box", Enumerable.Range(0, 30).Select(i => Line(i, (600L << 20) + i * (1L << 20), limit: null)));
        Assert.Empty(Forecast.Findings(unlimited, new ForecastOptions(), unlimited[^1].Time));
        Assert.Empty(Forecast.Findings(new List<GpuMetricSample>(), new ForecastOptions(), T0));
    }

    [Fact]
    public void An_OOM_kill_in_the_window_is_a_failure()
    {
        var lines = Enumerable.Range(0, 12).Select(i => Line(i, 900L << 20).Replace(",v2,", ",v1,")).ToList();
        lines[^1] = lines[^1].Replace($",{1L << 30},0,", $",{1L << 30},1,");
        var samples = MetricLine.ParseAll("box", lines);
        var f = Assert.Single(Forecast.Findings(samples, new ForecastOptions(), samples[^1].Time));
        Assert.Equal(("MemoryOom", "Fail"), (f.Check, f.Status));
        Assert.Contains("OOM-killed 1 process", f.Message);
    }

    [Fact]
    public void Idle_GPUs_are_flagged_while_a_cell_runs_and_with_none_running_but_only_after_the_threshold()
    {
        var options = new ForecastOptions(IdleAfter: TimeSpan.FromMinutes(10));
        // Busy for 5 min, then GPU 1 at 0 % for 12 min while the cell runs.
        var stalled = MetricLine.ParseAll("box", Enumerable.Range(0, 18 * 6).Select(i => Line(i * 10, 500L << 20,
            gpus: i < 30 ? "0:90:1:2:3:4:5;1:95:1:2:3:4:5" : "0:90:1:2:3:4:5;1:0:1:2:3:4:5")));
        var f = Assert.Single(Forecast.Findings(stalled, options, stalled[^1].Time));
        Assert.Equal("GpuIdle", f.Check);
        Assert.Matches("GPU 1 under 5 % for 13 min while q/a runs", f.Message);
        Assert.Empty(Forecast.Findings(stalled, new ForecastOptions(IdleAfter: TimeSpan.FromMinutes(20)), stalled[^1].Time));
        // Nothing running and every GPU idle for 20 min: the meter runs for nothing.
        var idle = MetricLine.ParseAll("box", Enumerable.Range(0, 121).Select(i => Line(i * 10, 500L << 20, cells: "", gpus: "0:0:1:2:3:4:5;1:3:1:2:3:4:5")));
        var r = Assert.Single(Forecast.Findings(idle, options, idle[^1].Time));
        Assert.Equal("IdleRental", r.Check);
        Assert.Contains("Remove-GpuRental box", r.Message);
        // A failed nvidia-smi reading is no evidence of idleness: the stretch starts after it.
        var gap = MetricLine.ParseAll("box", Enumerable.Range(0, 121).Select(i => Line(i * 10, 500L << 20, cells: "", gpus: i == 100 ? "error" : "0:0:1:2:3:4:5")));
        Assert.Empty(Forecast.Findings(gap, options, gap[^1].Time));
    }

    static GpuHost Host(string data) => new() { Name = "box", DataDir = data };

    string Run(string command) => QueueFileTests.RunBash($"cd {Text.ShellQuote.Quote(_dir)} && {command}");

    [Fact]
    public void The_sampler_rotates_its_files_within_bounds_starts_once_and_stop_leaves_no_process()
    {
        // A data directory with a name that needs quoting, and a running cell whose tree grows.
        var data = Path.Combine(_dir, "data dir $(x)");
        var cell = Path.Combine(data, ".rgt/queues/q1/cells/cell one");
        Directory.CreateDirectory(cell);
        File.WriteAllText(Path.Combine(cell, "state"), "Running\n");
        var host = Host(data);
        var monDir = MonitorScripts.Directory(host);
        var start = Run(MonitorScripts.Start(host, 1, maxFileBytes: 300, keepFiles: 2));
        Assert.Matches(@"\|STARTED\t\d+", start);
        Assert.Matches(@"\|RUNNING\t\d+", Run(MonitorScripts.Start(host, 1, maxFileBytes: 300, keepFiles: 2)));
        Thread.Sleep(5500);
        var files = Directory.GetFiles(monDir, "samples-*.csv").Order().ToList();
        Assert.InRange(files.Count, 1, 2);
        Assert.True(Directory.GetFiles(monDir, "samples-*.csv").Length <= 2);
        var lines = files.SelectMany(File.ReadAllLines).ToList();
        Assert.True(lines.Count >= 2, string.Join('\n', lines));
        foreach (var f in files) Assert.True(new FileInfo(f).Length < 300 + 400, f);
        var s = MetricLine.Parse("box", lines[^1])!;
        Assert.NotNull(s);
        Assert.NotNull(s.MemoryUsedBytes);
        Assert.True(s.MemoryLimitBytes is > 0, lines[^1]);
        Assert.True(s.DataFreeBytes > 0);
        var stop = Run(MonitorScripts.Stop(host));
        Assert.Matches(@"\|STOPPED\t\d+\t\d+\t\d+", stop);
        Thread.Sleep(300);
        Assert.DoesNotContain(monDir + "/sampler.sh", Run("ps -eo args"));
        Assert.Contains("|NOT_RUNNING", Run(MonitorScripts.Stop(host)));
        // A stopped monitor starts again.
        var again = Run(MonitorScripts.Start(host, 1, maxFileBytes: 300, keepFiles: 2));
        Assert.True(again.Contains("|STARTED\t"), again + Run($"cat {Text.ShellQuote.Quote(monDir)}/sampler.log; ls -la {Text.ShellQuote.Quote(monDir)}; ps -eo pid,pgid,args | grep -v grep | grep -E 'sampler|sleep'"));
        Assert.Matches(@"\|STOPPED\t", Run(MonitorScripts.Stop(host)));
    }

    [Fact]
    public void A_read_returns_only_whole_new_lines_and_starts_over_on_a_truncated_or_rotated_file()
    {
        var host = Host(Path.Combine(_dir, "data"));
        var mon = MonitorScripts.Directory(host);
        Directory.CreateDirectory(mon);
        var a = Path.Combine(mon, "samples-20261201T000000Z.csv");
        File.WriteAllText(a, "v1,1\nv1,2\nv1,3\nv1,4-partial");
        (MetricCursor Cursor, List<string> Lines) Read(MetricCursor c)
        {
            var section = ProbeSections.Parse(Run(MonitorScripts.Read(host, c)));
            Assert.Equal(0, section.ExitCode("monitor"));
            return MetricStore.ParseRead(section["monitor"], c);
        }
        var (c1, l1) = Read(MetricCursor.Start);
        Assert.Equal(new[] { "v1,1", "v1,2", "v1,3" }, l1);
        Assert.Equal(new MetricCursor("samples-20261201T000000Z.csv", 15), c1);
        File.AppendAllText(a, "-done\nv1,5\n");
        var (c2, l2) = Read(c1);
        Assert.Equal(new[] { "v1,4-partial-done", "v1,5" }, l2);
        var (c3, l3) = Read(c2);
        Assert.Empty(l3);
        Assert.Equal(c2, c3);
        // Truncated below the cursor: read from its start.
        File.WriteAllText(a, "v1,9\n");
        var (c4, l4) = Read(c3);
        Assert.Equal(new[] { "v1,9" }, l4);
        // Rotated: the cursor's file is gone; newer files are read whole.
        File.Delete(a);
        File.WriteAllText(Path.Combine(mon, "samples-20261201T010000Z.csv"), "v1,10\n");
        var (c5, l5) = Read(c4);
        Assert.Equal(new[] { "v1,10" }, l5);
        Assert.Equal("samples-20261201T010000Z.csv", c5.File);
    }

    public static TheoryData<string, string, string?> StartRecords() => new()
    {
        { "STARTED\t41\t", "Started", null },
        { "STARTED\t41\tdead 7", "Started", "the sampler (PID 7) had died without stopping" },
        { "STARTED\t41\tstalled 7", "Started", "the sampler (PID 7) ran but wrote no sample" },
        { "RUNNING\t41", "AlreadyRunning", null },
    };

    [Theory]
    [MemberData(nameof(StartRecords))]
    public void A_start_record_reads_as_what_the_box_did_and_what_it_replaced(string record, string status, string? note)
    {
        var host = new GpuHost { Name = "box", HostName = "h", DataDir = "/d" };
        var m = MonitorScripts.StartResult(host, new Ssh.CommandOutput(0, Parsing.ProbeSections.Frame("monitor", record), "", TimeSpan.Zero, null), 5);
        Assert.Equal(status, m.Status);
        Assert.Equal(41, m.Pid);
        if (note is null) Assert.Null(m.Note); else Assert.Contains(note, m.Note);
    }

    [Fact]
    public void A_stop_record_reads_as_stopped_dead_or_not_running_and_anything_else_is_an_error()
    {
        var host = new GpuHost { Name = "box", HostName = "h", DataDir = "/d" };
        Ssh.CommandOutput Out(string r) => new(0, Parsing.ProbeSections.Frame("monitor", r), "", TimeSpan.Zero, null);
        var stopped = MonitorScripts.StopResult(host, Out("STOPPED\t250\t100\t60"));
        Assert.Equal(("Stopped", 2.5, 60.0), (stopped.Status, stopped.CpuSeconds, stopped.RanSeconds));
        var dead = MonitorScripts.StopResult(host, Out("DEAD\t9\t2"));
        Assert.Equal(("Dead", 9), (dead.Status, dead.Pid));
        Assert.Contains("2 process(es) it left were ended", dead.Note);
        Assert.Equal("NotRunning", MonitorScripts.StopResult(host, Out("NOT_RUNNING")).Status);
        Assert.Equal("MonitorFailed", Assert.Throws<RgtException>(() => MonitorScripts.StopResult(host, Out("stopped\t1\t2\t3"))).ErrorId);
    }
}
