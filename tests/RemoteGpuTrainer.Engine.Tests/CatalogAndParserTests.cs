using RemoteGpuTrainer.Engine.Parsing;
using RemoteGpuTrainer.Engine.Platforms;
using Xunit;

namespace RemoteGpuTrainer.Engine.Tests;

public class CatalogTests
{
    static readonly PlatformCatalog Catalog = PlatformCatalog.Load(TestFiles.PlatformsDir);

    [Fact]
    public void Every_platform_of_the_spec_is_in_the_catalog()
    {
        var expected = new[] { "autodl", "colab", "featurize", "generic-ssh", "gpushare", "kaggle", "kubernetes", "lambda", "lanrui", "local", "matpool", "paperspace", "runpod", "slurm", "vastai" };
        Assert.Equal(expected, Catalog.All.Select(p => p.Name).ToArray());
    }

    [Fact]
    public void AutoDL_facts()
    {
        var p = Catalog.Get("autodl");
        Assert.Equal("关机", p.MeterStopVerb);
        Assert.False(p.MeterStopIrreversible);
        Assert.Equal("释放", p.DestructiveVerb);
        Assert.Equal("/root/autodl-tmp", p.DataDir);
        Assert.Equal("/root/autodl-fs", p.DurableDir);
        Assert.Contains(p.DangerClocks, c => c.After!.StartsWith("15 days"));
        Assert.Contains(p.Gotchas, g => g.Id == "AD4");
        Assert.Equal(3, p.Storage.Length);
    }

    [Theory]
    [InlineData("runpod", 5)]
    [InlineData("vastai", 0)]
    [InlineData("slurm", 30)]
    public void Spot_grace(string name, int seconds) => Assert.Equal(seconds, Catalog.Get(name).SpotGraceSeconds);

    [Theory]
    [InlineData("connect.westb.seetacloud.com", "autodl")]
    [InlineData("hz.matpool.com", "matpool")]
    [InlineData("ssh.cn1.lanrui-ai.com", "lanrui")]
    [InlineData("1.2.3.4", "generic-ssh")]
    [InlineData("gpu-box", "generic-ssh")]
    public void Platform_is_guessed_from_the_host_name(string host, string platform) =>
        Assert.Equal(platform, Catalog.GuessFromHostName(host).Name);

    [Fact]
    public void Unknown_platform_names_the_known_ones()
    {
        var ex = Assert.Throws<RgtException>(() => Catalog.Get("aws"));
        Assert.Equal("PlatformUnknown", ex.ErrorId);
        Assert.Contains("autodl", ex.Message);
    }

    [Fact]
    public void A_user_profile_overrides_and_a_broken_one_names_the_line()
    {
        var dir = TestFiles.TempDir();
        File.WriteAllText(Path.Combine(dir, "autodl.yml"), "rgt:\n  name: autodl\n  data_dir: /mnt/fast\nplatform: autodl\ndisplay_name: AutoDL (mine)\n");
        Assert.Equal("/mnt/fast", PlatformCatalog.Load(TestFiles.PlatformsDir, dir).Get("autodl").DataDir);
        File.WriteAllText(Path.Combine(dir, "bad.yml"), "platform: x\n  bad: [\n");
        var ex = Assert.Throws<RgtException>(() => PlatformCatalog.Load(TestFiles.PlatformsDir, dir));
        Assert.Equal("PlatformProfileMalformed", ex.ErrorId);
        Assert.Contains("line", ex.Message);
    }
}

public class ParserTests
{
    [Theory]
    [InlineData("table_h100-80gb-hbm3x8_drv550.90.07.txt", 8, "NVIDIA H100 80GB HBM3", "550.90.07", "12.4")]
    [InlineData("table_h100-80gb-hbm3_drv590.48.01_load.txt", 1, "NVIDIA H100 80GB HBM3", "590.48.01", "13.1")]
    [InlineData("table_h100-mig_drv590.48.01_idle.txt", 1, "NVIDIA H100 80GB HBM3", "590.48.01", "13.1")]
    [InlineData("table_h200-mig_drv590.48.01_load.txt", 1, "NVIDIA H200", "590.48.01", "13.1")]
    [InlineData("table_l4_drv550.90.07.txt", 1, "NVIDIA L4", "550.90.07", "12.4")]
    [InlineData("table_rtx2080super-windows_drv610.62_load.txt", 1, "NVIDIA GeForce RTX 2080 ...", "610.62", "13.3")]
    [InlineData("table_rtx4080super_drv595.71.05_load.txt", 1, "NVIDIA GeForce RTX 4080 ...", "595.71.05", "13.2")]
    [InlineData("table_rtx4090_drv525.125.06_fan-ERR.txt", 1, "NVIDIA GeForce ...", "525.125.06", "12.0")]
    [InlineData("table_geforce-laptop-16gb_drv470.63.01_narrow-layout-procs.txt", 1, "NVIDIA GeForce ...", "470.63.01", "11.4")]
    public void Nvidia_smi_tables_parse(string file, int gpus, string name, string driver, string cuda)
    {
        var s = NvidiaSmiTable.Parse(File.ReadAllText(TestFiles.Fixture("gpu", file)))!;
        Assert.Equal(gpus, s.GpuNames.Count);
        Assert.All(s.GpuNames, n => Assert.Equal(name, n));
        Assert.Equal(driver, s.Driver);
        Assert.Equal(cuda, s.CudaVersion);
        Assert.Equal(file.Contains("mig"), s.MigEnabled);
    }

    [Theory]
    [InlineData("err_nvidia-smi-has-failed-no-driver.txt")]
    [InlineData("err_unable-to-determine-device-handle_unknown-error.txt")]
    public void Nvidia_smi_failures_are_not_tables(string file) =>
        Assert.Null(NvidiaSmiTable.Parse(File.ReadAllText(TestFiles.Fixture("gpu", file))));

    [Fact]
    public void Df_posix_with_type_column_and_dashes()
    {
        var rows = DfParser.Parse(File.ReadAllText(TestFiles.Fixture("gpu", "df-PT_long-filesystem-name.txt")), 1024);
        var root = rows.First(r => r.MountedOn == "/");
        Assert.Equal("/dev/mapper/VolGroup00-LogVol00 ext3", root.FileSystem);
        Assert.Equal(6030784L * 1024, root.Total);
        Assert.Equal(21, root.UsePercent);
        Assert.Null(rows.First(r => r.MountedOn == "/proc").UsePercent);
    }

    [Fact]
    public void Df_plain_1k_blocks()
    {
        var rows = DfParser.Parse(File.ReadAllText(TestFiles.Fixture("gpu", "df_ubuntu18.04_1k-blocks.txt")));
        Assert.Contains(rows, r => r.MountedOn == "/" && r.Total > 0 && r.UsePercent is >= 0 and <= 100);
    }

    [Fact]
    public void Probe_sections_split_and_carry_exit_codes()
    {
        var s = ProbeSections.Parse("banner from a profile\n@@RGT a\n|line1\n|line2\n\n@@RGT a rc=0\n@@RGT b\n\n@@RGT b rc=127\n@@RGT c\n|cut off\n");
        Assert.Equal("line1\nline2", s["a"]);
        Assert.Equal(0, s.ExitCode("a"));
        Assert.Equal("", s["b"]);
        Assert.Equal(127, s.ExitCode("b"));
        Assert.Equal("cut off", s["c"]);
        Assert.Null(s.ExitCode("c"));
        Assert.Null(s.ExitCode("d"));
    }

    [Fact]
    public void A_line_of_output_cannot_end_or_forge_a_section()
    {
        // The real wire prelude through real bash: the command prints marker-like lines.
        var script = Scripts.BoxScript.Load("env").Arguments(new[] { "HOME" }).Text
            + "f() { printf '@@RGT x rc=0\\n@@RGT y\\n|z\\n'; printf 'no newline'; }\nrgt_section x f\n";
        var s = ProbeSections.Parse(QueueFileTests.RunBash(script));
        Assert.Equal("@@RGT x rc=0\n@@RGT y\n|z\nno newline", s["x"]);
        Assert.Equal(0, s.ExitCode("x"));
        Assert.False(s.Has("y"));
    }
}
