using RemoteGpuTrainer.Engine.Parsing;
using Xunit;

namespace RemoteGpuTrainer.Engine.Tests;

public class QueryGpuCsvTests
{
    static QueryGpuResultView Load(string file) => new(NvidiaSmiCsv.Parse(File.ReadAllText(TestFiles.Fixture("gpu", file))));

    internal sealed record QueryGpuResultView(QueryGpuResult R)
    {
        public Model.GpuDevice Single => Assert.Single(R.Gpus);
    }

    [Theory]
    [InlineData("query-gpu_h100-80gb-hbm3_drv590.48.01_load.csv", "NVIDIA H100 80GB HBM3")]
    [InlineData("query-gpu_h100-mig_drv590.48.01_load.csv", "NVIDIA H100 80GB HBM3")]
    [InlineData("query-gpu_h200_drv590.48.01_load.csv", "NVIDIA H200")]
    [InlineData("query-gpu_h200-mig_drv590.48.01_load.csv", "NVIDIA H200")]
    [InlineData("query-gpu_l40s_drv595.80_load.csv", "NVIDIA L40S")]
    [InlineData("query-gpu_rtx2080super_drv610.57.04_load.csv", "NVIDIA GeForce RTX 2080 SUPER")]
    [InlineData("query-gpu_rtx4080super_drv595.71.05_idle.csv", "NVIDIA GeForce RTX 4080 SUPER")]
    [InlineData("query-gpu_rtx2080super-windows_drv591.86_load.csv", "NVIDIA GeForce RTX 2080 SUPER")]
    [InlineData("query-gpu_tesla-p100_drv510_nounits.csv", "Tesla P100-PCIE-16GB")]
    public void Every_real_sample_parses(string file, string name)
    {
        var r = Load(file);
        Assert.Empty(r.R.Problems);
        var g = r.Single;
        Assert.Equal(name, g.Name);
        Assert.StartsWith("GPU-", g.Uuid);
        Assert.NotNull(g.TemperatureC);
        Assert.InRange(g.TemperatureC!.Value, 10, 110);
        Assert.Matches("^P[0-9]+$", g.PState);
        Assert.False(g.Lost);
    }

    [Fact]
    public void H100_under_load_has_numbers_units_stripped()
    {
        var g = Load("query-gpu_h100-80gb-hbm3_drv590.48.01_load.csv").Single;
        Assert.Equal(0, g.Index);
        Assert.True(g.MemoryTotalMiB > 80000);
        Assert.True(g.SmClockMaxMHz >= g.SmClockMHz);
        Assert.True(g.PowerLimitW >= 300);
        Assert.Equal(0, g.UncorrectedEcc);
        Assert.NotNull(g.GpuUtilization);
    }

    [Fact]
    public void Mig_mode_reports_utilization_as_unavailable()
    {
        var g = Load("query-gpu_h100-mig_drv590.48.01_load.csv").Single;
        Assert.Null(g.GpuUtilization);
        Assert.Contains("utilization.gpu", g.Unavailable);
    }

    [Fact]
    public void Two_row_sample_without_index_field_still_numbers_gpus()
    {
        var r = NvidiaSmiCsv.Parse(File.ReadAllText(TestFiles.Fixture("gpu", "query-gpu_rtx2080super-windows_drv466.63_partly-synthetic.csv")));
        Assert.Equal(2, r.Gpus.Count);
        Assert.Equal(new int?[] { 0, 1 }, r.Gpus.Select(g => g.Index));
        Assert.Equal(575, r.Gpus[0].MemoryUsedMiB);
    }

    [Fact]
    public void Noheader_output_uses_the_queried_fields_and_flags_lost_gpus()
    {
        var fields = new[] { "index", "name", "temperature.gpu", "clocks_event_reasons.hw_slowdown", "clocks_event_reasons.sw_power_cap", "ecc.errors.uncorrected.volatile.total" };
        var r = NvidiaSmiCsv.Parse("0, NVIDIA H100 80GB HBM3, 85, Active, Not Active, 2\n1, [GPU is lost], [GPU is lost], [GPU is lost], [GPU is lost], [GPU is lost]\n", fields);
        Assert.Equal(new[] { "hw_slowdown" }, r.Gpus[0].ThrottleReasons);
        Assert.Equal(2, r.Gpus[0].UncorrectedEcc);
        Assert.True(r.Gpus[1].Lost);
        Assert.Null(r.Gpus[1].TemperatureC);
    }

    [Fact]
    public void A_truncated_row_is_a_problem_not_a_crash()
    {
        var r = NvidiaSmiCsv.Parse("index, name, temperature.gpu\n0, NVIDIA H100\n");
        Assert.Empty(r.Gpus);
        Assert.Contains(r.Problems, p => p.Contains("row 1"));
    }
}

public class XidParserTests
{
    [Theory]
    [InlineData("xid_dmesg-ctime_13-31-109-peermem.log", new[] { 13, 31, 109 }, "Fri Aug 30 11:43:09 2024", "0000:cb:00")]
    [InlineData("xid_dmesg-ctime_xe9680_119-gsp-timeout.log", new[] { 119 }, "Sun Feb 23 16:24:18 2025", "0000:9b:00")]
    [InlineData("xid_dmesg-iso_13-43-plus-oom.log", new[] { 13, 43 }, "2025-01-21T04:41:44,283302+00:00", "0000:38:00")]
    [InlineData("xid_dmesg-iso_48-63-94-peermem.log", new[] { 48, 63, 94 }, "2024-11-15T12:02:03,470068+00:00", "0000:19:00")]
    [InlineData("xid_kern-log_hgx-nvswitch_79-plus-sxid20034.log", new[] { 79 }, "6781741.548779", "0000:91:00")]
    [InlineData("xid_syslog-bare_a100_63-row-remapper-old-format.log", new[] { 63 }, null, "0000:10:1c")]
    public void Every_timestamp_style_parses(string file, int[] codes, string? firstTime, string firstDevice)
    {
        var events = XidParser.Parse(File.ReadAllText(TestFiles.Fixture("gpu", file)));
        Assert.Equal(codes.OrderBy(c => c), events.Select(e => e.Code).Distinct().OrderBy(c => c));
        Assert.Equal(firstTime, events[0].Time);
        Assert.Equal(firstDevice, events[0].Device);
        Assert.All(events, e => Assert.DoesNotContain("pid=", e.Message));
    }

    [Fact]
    public void Hardware_class_is_marked()
    {
        var events = XidParser.Parse(File.ReadAllText(TestFiles.Fixture("gpu", "xid_dmesg-iso_48-63-94-peermem.log")));
        Assert.True(events.First(e => e.Code == 48).HardwareClass);
        Assert.True(events.First(e => e.Code == 94).HardwareClass);
        Assert.False(events.First(e => e.Code == 63).HardwareClass);
        var fell = XidParser.Parse(File.ReadAllText(TestFiles.Fixture("gpu", "xid_kern-log_hgx-nvswitch_79-plus-sxid20034.log"))).Single();
        Assert.Equal("GPU has fallen off the bus.", fell.Message);
    }
}

public class CgroupMemoryTests
{
    static string F(string name) => File.ReadAllText(TestFiles.Fixture("gpu", name));

    [Fact]
    public void V2_real_files()
    {
        var m = CgroupMemory.FromV2(F("cgroup2_memory.max.txt"), F("cgroup2_memory.current.txt"), F("cgroup2_memory.events.txt"));
        Assert.Equal(103079215104, m.LimitBytes);
        Assert.Equal(13071106048, m.UsageBytes);
        Assert.Equal(0, m.OomKills);
        Assert.InRange(m.UsedPercent!.Value, 12.6, 12.7);
    }

    [Fact]
    public void V2_max_means_no_limit()
    {
        var m = CgroupMemory.FromV2(F("cgroup2_memory.high.txt"), "5\n", null);
        Assert.Null(m.LimitBytes);
        Assert.Null(m.UsedPercent);
        Assert.Null(m.OomKills);
    }

    [Fact]
    public void V1_unlimited_and_oom_control()
    {
        var m = CgroupMemory.FromV1("9223372036854771712\n", "1024\n", "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n");
        Assert.Null(m.LimitBytes);
        Assert.Equal(3, m.OomKills);
    }
}

public class NvidiaSmiQueryTests
{
    static QueryGpuResult Load(string file) => NvidiaSmiQuery.Parse(File.ReadAllText(TestFiles.Fixture("gpu", file)));

    [Theory]
    [InlineData("q_a10_drv535.129.03.txt", 1, "NVIDIA A10")]
    [InlineData("q_h100-80gb-hbm3_drv590.48.01_load.txt", 1, "NVIDIA H100 80GB HBM3")]
    [InlineData("q_h100-80gb-hbm3x8_drv535.161.08_hw-slowdown-active.txt", 8, "NVIDIA H100 80GB HBM3")]
    [InlineData("q_h100-80gb-hbm3x8_drv535.183.01_sw-powercap-thermal-active.txt", 8, "NVIDIA H100 80GB HBM3")]
    [InlineData("q_h100-mig_drv590.48.01_idle.txt", 1, "NVIDIA H100 80GB HBM3")]
    [InlineData("q_h200_drv590.48.01_load.txt", 1, "NVIDIA H200")]
    [InlineData("q_l40s_drv595.80_load.txt", 1, "NVIDIA L40S")]
    [InlineData("q_rtx2080super-windows_drv610.62_load.txt", 1, "NVIDIA GeForce RTX 2080 SUPER")]
    [InlineData("q_rtx2080super_drv610.57.04_load.txt", 1, "NVIDIA GeForce RTX 2080 SUPER")]
    [InlineData("q_rtx4090x8_drv535.154.05.txt", 8, "NVIDIA GeForce RTX 4090")]
    [InlineData("q_rtx4090x8_drv535.154.05_unknown-error.txt", 8, "NVIDIA GeForce RTX 4090")]
    [InlineData("q_titan-v_drv560.35.03.txt", 1, "NVIDIA TITAN V")]
    public void Every_valid_sample_parses(string file, int count, string name)
    {
        var r = Load(file);
        Assert.Empty(r.Problems);
        Assert.Equal(count, r.Gpus.Count);
        Assert.All(r.Gpus, g =>
        {
            Assert.Equal(name, g.Name);
            Assert.NotNull(g.TemperatureC);
            Assert.NotNull(g.SmClockMaxMHz);
            Assert.Matches("^P[0-9]+$", g.PState);
        });
    }

    [Fact]
    public void Hw_slowdown_and_power_brake_are_active_on_every_gpu()
    {
        var r = Load("q_h100-80gb-hbm3x8_drv535.161.08_hw-slowdown-active.txt");
        Assert.All(r.Gpus, g => Assert.Contains("hw_slowdown", g.ThrottleReasons));
    }

    [Fact]
    public void Sw_power_cap_and_sw_thermal_are_read()
    {
        var r = Load("q_h100-80gb-hbm3x8_drv535.183.01_sw-powercap-thermal-active.txt");
        Assert.Contains(r.Gpus, g => g.ThrottleReasons.Contains("sw_power_cap"));
        Assert.Contains(r.Gpus, g => g.ThrottleReasons.Contains("sw_thermal_slowdown"));
    }

    [Fact]
    public void The_truncated_edited_sample_gives_findings_not_a_crash()
    {
        var r = Load("q_h100-80gb-hbm3x8_drv535.183.01_INVALID-truncated-edited.txt");
        Assert.Contains(r.Problems, p => p.Contains("truncated"));
        Assert.Contains(r.Problems, p => p.Contains("Invalid HW Slowdown"));
    }

    [Fact]
    public void Page_retirement_view_parses_eight_gpus_without_names()
    {
        var r = Load("q-d-page_retirement_8gpu_drv535.86.10.txt");
        Assert.Equal(8, r.Gpus.Count);
        Assert.All(r.Gpus, g => Assert.Null(g.Name));
    }
}

public class ProcessParserTests
{
    static readonly string[] Files = { "/dev/nvidia0", "/dev/nvidia1", "/dev/nvidiactl", "/x/dev/nvidia5" };

    [Fact]
    public void Fuser_verbose_with_noise_and_long_paths()
    {
        // as psmisc fuser -v prints it (stderr merged), PID 1's fds refused inside a container
        const string text = "fuser\nCannot stat file /proc/1/fd/0: Permission denied\n                     USER        PID ACCESS COMMAND\n" +
            "/dev/nvidia0:        root       1234 F.... python\n                     root       5678 F...m python3\n" +
            "/dev/nvidiactl:      root       1234 F.... python\n/x/dev/nvidia5:\n                     root      15469 f.... sleep\n" +
            "/dev/nvidia1:        root     kernel mount /dev\n";
        var h = ProcessParsers.ParseHolders(text, Files);
        Assert.Equal(new[] { 1234, 5678, 15469 }, h.Keys.OrderBy(k => k));
        Assert.Equal(new[] { "/dev/nvidia0", "/dev/nvidiactl" }, h[1234]);
        Assert.Equal(new[] { "/x/dev/nvidia5" }, h[15469]);
    }

    [Fact]
    public void Lsof_and_proc_fallbacks()
    {
        var l = ProcessParsers.ParseHolders("lsof\np42\nf3\nn/dev/nvidia1\np43\nf4\nn/etc/passwd\n", Files);
        Assert.Equal(new[] { 42 }, l.Keys);
        var p = ProcessParsers.ParseHolders("proc\n/proc/77/fd:\ntotal 0\nlr-x------ 1 root root 64 Nov 28 13:29 3 -> /dev/nvidia0\nlrwx------ 1 root root 64 Nov 28 13:29 4 -> /tmp/x\n\n/proc/78/fd:\nlrwx------ 1 root root 64 Nov 28 13:29 0 -> /dev/null\n", Files);
        Assert.Equal(new[] { 77 }, p.Keys);
        Assert.Empty(ProcessParsers.ParseHolders("none\n", Files));
    }

    [Fact]
    public void Ps_lines_with_single_digit_days_and_long_args()
    {
        var ps = ProcessParsers.ParsePs("  812   3600 root                             Sun Nov  8 09:01:02 2026 python train.py --cfg a b\n15466       0 root Sat Nov 28 13:29:31 2026 sleep 86400\n");
        Assert.Equal("Sun Nov 8 09:01:02 2026", ps[812].StartTime);
        Assert.Equal(3600, ps[812].AgeSeconds);
        Assert.Equal("python train.py --cfg a b", ps[812].Command);
        Assert.Equal("sleep 86400", ps[15466].Command);
    }

    [Fact]
    public void Compute_apps_with_and_without_header()
    {
        var withHeader = ProcessParsers.ParseComputeApps(File.ReadAllText(TestFiles.Fixture("gpu", "compute-apps_h100-80gb-hbm3_drv590.48.01_load.csv")));
        Assert.Equal(3, withHeader.Count);
        Assert.Equal("/root/tools/memhog", withHeader[0].ProcessName);
        Assert.Empty(ProcessParsers.ParseComputeApps(File.ReadAllText(TestFiles.Fixture("gpu", "compute-apps_h100-80gb-hbm3_drv590.48.01_idle-empty.csv"))));
        var noHeader = ProcessParsers.ParseComputeApps("11327, /root/tools/memhog, GPU-0, 2566\n");
        Assert.Equal(2566, noHeader.Single().UsedMemoryMiB);
    }
}

public class EverySampleParsesTests
{
    static string F(string name) => File.ReadAllText(TestFiles.Fixture("gpu", name));

    [Theory]
    [InlineData("xml_a100-sxm4-40gb-mig_drv510.47.03.xml", 1, "NVIDIA A100-SXM4-40GB")]
    [InlineData("xml_a100-sxm4-80gb_drv535.54.03.xml", 1, "NVIDIA A100-SXM4-80GB")]
    [InlineData("xml_a10g_drv515.105.01.xml", 1, "NVIDIA A10G")]
    [InlineData("xml_grid-p4-1q-vgpu_drv513.46.xml", 1, "GRID P4-1Q")]
    [InlineData("xml_gtx1660ti_drv418.43.xml", 1, "Graphics Device")]
    [InlineData("xml_rtx-a5000x2_drv590.44.01.xml", 2, "NVIDIA RTX A5000")]
    [InlineData("xml_rtx-pro6000-blackwell-maxq_drv590.44.01.xml", 1, "NVIDIA RTX PRO 6000 Blackwell Max-Q Workstation Edition")]
    [InlineData("xml_rtx2080-windows_drv516.59.xml", 1, "NVIDIA GeForce RTX 2080")]
    [InlineData("xml_rtx3060_drv570.124.04.xml", 1, "NVIDIA GeForce RTX 3060")]
    [InlineData("xml_rtx3080_drv595.58.03.xml", 1, "NVIDIA GeForce RTX 3080")]
    [InlineData("xml_rtx3090_drv525.147.05.xml", 1, "NVIDIA GeForce RTX 3090")]
    [InlineData("xml_rtx3090_drv590.44.01.xml", 1, "NVIDIA GeForce RTX 3090")]
    [InlineData("xml_rtx4000-sff-ada_drv595.84.xml", 1, "NVIDIA RTX 4000 SFF Ada Generation")]
    [InlineData("xml_rtx4090_drv535.86.05.xml", 1, "NVIDIA GeForce RTX 4090")]
    [InlineData("xml_tesla-p100_drv510.47.03.xml", 1, "Tesla P100-PCIE-16GB")]
    [InlineData("xml_tesla-t4_drv515.105.01.xml", 1, "Tesla T4")]
    public void Xml(string file, int count, string name)
    {
        var r = NvidiaSmiXml.Parse(F(file));
        if (file.StartsWith("xml_a100-sxm4-80gb", StringComparison.Ordinal))
            Assert.Contains("says 4 GPUs are attached but lists 1", Assert.Single(r.Problems)); // trimmed upstream: a finding, not a crash
        else
            Assert.Empty(r.Problems);
        Assert.Equal(count, r.Gpus.Count);
        Assert.All(r.Gpus, g => { Assert.Equal(name, g.Name); Assert.NotNull(g.BusId); Assert.Matches("^P[0-9]+$", g.PState); });
    }

    [Fact]
    public void Xml_reads_event_reasons_and_both_power_layouts()
    {
        var new13 = NvidiaSmiXml.Parse(F("xml_rtx3090_drv590.44.01.xml")).Gpus.Single();
        Assert.Contains("sw_power_cap", new13.ThrottleReasons);
        Assert.NotNull(new13.TemperatureC);
        Assert.NotNull(new13.PowerLimitW);
        var old = NvidiaSmiXml.Parse(F("xml_tesla-p100_drv510.47.03.xml")).Gpus.Single();
        Assert.NotNull(old.PowerDrawW);
        Assert.Equal(0, old.UncorrectedEcc);
        Assert.Contains("not valid XML", NvidiaSmiXml.Parse("<nvidia_smi_log><gpu").Problems.Single());
    }

    [Theory]
    [InlineData("dmon_h100-80gb-hbm3_drv590.48.01_load.txt", "pwr", "631")]
    [InlineData("dmon_h200-mig_drv590.48.01_load.txt", "gpu", "0")]
    [InlineData("dmon_l40s_drv595.80_load.txt", "mtemp", null)]
    [InlineData("dmon_rtx2080super-windows_drv591.86_load.txt", "gpu", "0")]
    public void Dmon(string file, string column, string? firstValue)
    {
        var rows = NvidiaSmiMisc.ParseMonitor(F(file));
        Assert.NotEmpty(rows);
        Assert.Equal(firstValue, rows[0].Values[column]);
    }

    [Fact]
    public void Pmon()
    {
        var rows = NvidiaSmiMisc.ParseMonitor(F("pmon_h100-80gb-hbm3_drv590.48.01_load.txt"));
        Assert.Contains(rows, r => r.Values["pid"] == "11345" && r.Values["sm"] == "99" && r.Values["command"] == "gpu_burn");
        Assert.Contains(rows, r => r.Values["pid"] == "11327" && r.Values["sm"] is null);
    }

    [Fact]
    public void List_with_mig_devices()
    {
        var l = NvidiaSmiMisc.ParseList(F("list_h200-mig_drv590.48.01.txt"));
        Assert.Equal("NVIDIA H200", l[0].Name);
        Assert.Equal(5, l.Count(d => d.Kind == "MIG" && d.ParentGpu == 0));
        Assert.Equal("2g.35gb", l.Single(d => d.Kind == "MIG" && d.Index == 2).Name);
    }

    [Fact]
    public void Version_610_points_at_kmd_version()
    {
        var v = NvidiaSmiMisc.ParseVersion(F("version_rtx2080super_drv610.57.04.txt"));
        Assert.Equal("610.57.04", v["KMD version"]);
        Assert.StartsWith("Deprecated", v["DRIVER version"]);
    }

    [Fact]
    public void Query_help_of_old_and_new_drivers_both_know_the_probe_fields()
    {
        var old = NvidiaSmiMisc.ParseQueryHelp(F("help-query-gpu_drv525-era_throttle-names.txt"));
        var @new = NvidiaSmiMisc.ParseQueryHelp(F("help-query-gpu_drv610.57.04_event-names.txt"));
        Assert.DoesNotContain("clocks_event_reasons.hw_slowdown", old);
        Assert.Contains("clocks_event_reasons.hw_slowdown", @new);
        // the probe asks with the older names, which both drivers accept
        Assert.All(RemoteGpuTrainer.Engine.Probes.HealthProbe.QueryFields, f => { Assert.Contains(f, old); Assert.Contains(f, @new); });
    }

    [Theory]
    [InlineData("df-h_ubuntu18.04_snap-loops.txt", "/", 30)]
    [InlineData("df-hi_inodes_human.txt", "/", 7)]
    public void Df_human_forms(string file, string mount, int percent)
    {
        var row = DfParser.Parse(F(file)).First(r => r.MountedOn == mount);
        Assert.Equal(percent, row.UsePercent);
        Assert.True(row.Total > 1024 * 1024);
    }

    [Theory]
    [InlineData("compute-apps_h200-mig_drv590.48.01_load.csv", 12249)]
    [InlineData("compute-apps_rtx4080super_drv595.71.05_idle.csv", 2165)]
    [InlineData("compute-apps_rtx2080super-windows_drv610.62_load.csv", 2140)]
    public void Compute_apps(string file, int firstPid)
    {
        var apps = ProcessParsers.ParseComputeApps(F(file));
        Assert.Equal(firstPid, apps[0].Pid);
    }

    [Fact]
    public void Cgroup_stat()
    {
        var stat = CgroupMemory.ParseStat(F("cgroup2_memory.stat.txt"));
        Assert.Equal(2471755776, stat["anon"]);
        Assert.True(stat.Count > 20);
    }
}
