using RemoteGpuTrainer.Engine.Transfers;
using Xunit;

namespace RemoteGpuTrainer.Engine.Tests;

public class UploadPlanTests
{
    [Fact]
    public void A_source_tree_is_split_small_and_large_less_what_is_excluded_and_crlf_scripts_are_named_or_normalised()
    {
        var dir = TestFiles.TempDir();
        try
        {
            Directory.CreateDirectory(Path.Combine(dir, "sub dir"));
            File.WriteAllText(Path.Combine(dir, "run.sh"), "echo a\r\necho b\r\n");
            File.WriteAllText(Path.Combine(dir, "sub dir", "训练.py"), "print(1)\n");
            File.WriteAllText(Path.Combine(dir, "skip.log"), "x");
            File.WriteAllBytes(Path.Combine(dir, "big.bin"), new byte[BatchUploader.MaxFileBytes + 1]);
            var plan = UploadPlan.For(dir, new[] { "*.log" }, normalizeLineEndings: false);
            Assert.Equal(new[] { "run.sh", "sub dir/训练.py" }, plan.Small.Select(f => f.Relative));
            Assert.Equal(new[] { "big.bin" }, plan.Large.Select(f => f.Relative));
            Assert.Equal(new[] { "skip.log" }, plan.Excluded);
            Assert.Contains("run.sh has Windows (CRLF) line endings", Assert.Single(plan.Warnings));
            Assert.Null(plan.Small[0].Content);
            var fixedPlan = UploadPlan.For(dir, null, normalizeLineEndings: true);
            Assert.Empty(fixedPlan.Warnings);
            Assert.Equal("echo a\necho b\n", System.Text.Encoding.UTF8.GetString(fixedPlan.Small.Single(f => f.Relative == "run.sh").Content!));
            Assert.Equal("PathNotFound", Assert.Throws<RgtException>(() => UploadPlan.For(Path.Combine(dir, "nope"), null, false)).ErrorId);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Theory]
    [InlineData("/r/code/", "a.py", "/r/code", "a.py")]
    [InlineData("/r/code", "sub dir/x y.py", "/r/code/sub dir", "x y.py")]
    [InlineData("/r", "a/b/c.sh", "/r/a/b", "c.sh")]
    public void A_relative_path_lands_in_its_folder_under_the_destination(string root, string relative, string dir, string name)
    {
        Assert.Equal((dir, name), UploadPlan.Target(root, relative));
    }
}
