using RemoteGpuTrainer.Engine.Planning;
using RemoteGpuTrainer.Engine.Scripts;
using RemoteGpuTrainer.Engine.Ssh;
using RemoteGpuTrainer.Engine.Transfers;
using Xunit;

namespace RemoteGpuTrainer.Engine.Tests;

public class FailClosedTests
{
    [Theory]
    [InlineData("../x")]
    [InlineData("a/../../x")]
    [InlineData("/etc/passwd")]
    [InlineData("a//b")]
    [InlineData("./a")]
    [InlineData("")]
    public void Names_that_leave_the_destination_are_refused(string relative)
    {
        var ex = Assert.Throws<RgtException>(() => LocalPaths.Under("/tmp/dest", relative, "box", windows: false));
        Assert.Equal("UnsafeRemotePath", ex.ErrorId);
        Assert.Contains("box", ex.Message);
    }

    [Theory]
    [InlineData("a\\..\\..\\x")]
    [InlineData("C:x")]
    [InlineData("cells/CON")]
    [InlineData("cells/nul.txt")]
    [InlineData("trailing.")]
    public void Names_Windows_would_misread_are_refused_there(string relative)
    {
        Assert.Equal("UnsafeRemotePath", Assert.Throws<RgtException>(() => LocalPaths.Under("/tmp/dest", relative, "box", windows: true)).ErrorId);
        _ = LocalPaths.Under("/tmp/dest", relative.Replace('\\', '_').Replace(':', '_'), "box", windows: false);
    }

    [Theory]
    [InlineData("best.pth", "/tmp/dest/best.pth")]
    [InlineData("cell a/训练 b/best.pth", "/tmp/dest/cell a/训练 b/best.pth")]
    [InlineData("..hidden/x", "/tmp/dest/..hidden/x")]
    public void Ordinary_names_land_under_the_destination(string relative, string expected) =>
        Assert.Equal(expected, LocalPaths.Under("/tmp/dest", relative, "box", windows: false));

    static readonly Dictionary<string, string?> Env = new() { ["HOME"] = "/home/u", ["USER"] = "u", ["TMPDIR"] = null, ["EMPTY"] = "" };

    [Theory]
    [InlineData("~", "/home/u")]
    [InlineData("~/proj", "/home/u/proj")]
    [InlineData("$HOME/proj/", "/home/u/proj")]
    [InlineData("/scratch/$USER/proj", "/scratch/u/proj")]
    [InlineData("/scratch/${USER}x/p", "/scratch/ux/p")]
    [InlineData("proj/x", "/home/u/proj/x")]
    [InlineData("/abs/path", "/abs/path")]
    public void Remote_paths_expand_with_the_box_values(string path, string expected) =>
        Assert.Equal(expected, RemotePaths.Expand("box", path, Env));

    [Theory]
    [InlineData("$TMPDIR/x", "not set")]
    [InlineData("$NOPE/x", "not set")]
    [InlineData("$EMPTY/.rgt", "empty")]
    [InlineData("~other/x", "~user")]
    public void An_unset_or_empty_variable_is_an_error_not_an_empty_string(string path, string why)
    {
        var ex = Assert.Throws<RgtException>(() => RemotePaths.Expand("box", path, Env));
        Assert.Equal("RemotePathUnresolved", ex.ErrorId);
        Assert.Contains(why, ex.Message);
    }

    [Fact]
    public void The_env_script_reports_set_and_unset_variables_through_real_bash()
    {
        Environment.SetEnvironmentVariable("RGT_TEST_SET", "with space\tand tab");
        var output = QueueFileTests.RunBash(RemotePaths.Script(new[] { "RGT_TEST_SET", "RGT_TEST_SURELY_UNSET" }));
        var env = RemotePaths.ParseEnv(output);
        Assert.Equal("with space\tand tab", env["RGT_TEST_SET"]);
        Assert.True(env.ContainsKey("RGT_TEST_SURELY_UNSET"));
        Assert.Null(env["RGT_TEST_SURELY_UNSET"]);
    }

    [Fact]
    public void A_webhook_is_named_by_host_and_hash_never_by_its_path()
    {
        var url = new Uri("https://hooks.slack.example/services/T0/B0/SECRETTOKEN");
        var name = WebhookStore.NameFor(url);
        Assert.Matches("^hooks\\.slack\\.example-[0-9a-f]{10}$", name);
        Assert.DoesNotContain("SECRET", name);
        Assert.Equal("https://hooks.slack.example", WebhookStore.Describe(url));
        Assert.NotEqual(name, WebhookStore.NameFor(new Uri("https://hooks.slack.example/services/T0/B0/OTHER")));
    }

    [Fact]
    public void Every_box_script_is_embedded_and_renders_its_parameters_quoted()
    {
        // Every .sh file of the source tree, not a list typed here that a new script would miss.
        var onDisk = Directory.GetFiles(Path.Combine(TestFiles.RepoRoot, "src/RemoteGpuTrainer.Engine/Scripts"), "*.sh").Select(f => Path.GetFileNameWithoutExtension(f)).Order().ToList();
        Assert.True(onDisk.Count > 20, $"found only {onDisk.Count} scripts");
        Assert.Equal(onDisk, BoxScript.Embedded().Order().ToList());
        foreach (var name in onDisk) Assert.False(string.IsNullOrWhiteSpace(BoxScript.Load(name).Text), name);
        var text = BoxScript.Load("remote-list").Set("ROOT", "/x/it's $(touch pwned)").Text;
        Assert.Contains("ROOT='/x/it'\\''s $(touch pwned)'\n", text);
        Assert.Throws<ArgumentException>(() => BoxScript.Load("remote-list").Set("lower", "x"));
    }
}
