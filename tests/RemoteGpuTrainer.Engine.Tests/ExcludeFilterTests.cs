using RemoteGpuTrainer.Engine.Transfers;
using Xunit;

namespace RemoteGpuTrainer.Engine.Tests;

public class ExcludeFilterTests
{
    static readonly ExcludeFilter Filter = new(new[] { ".git", "__pycache__", "*.pt", "# a comment", "", "data/raw", "logs/*.txt" });

    [Theory]
    [InlineData(".git/HEAD")]
    [InlineData("src/__pycache__/m.cpython-311.pyc")]
    [InlineData("ckpt/best.pt")]
    [InlineData("data/raw/a.bin")]
    [InlineData("logs/run.txt")]
    [InlineData(".rgtignore")]
    public void Leaves_out(string relative) => Assert.True(Filter.Excludes(relative));

    [Theory]
    [InlineData("train.py")]
    [InlineData("best.pth")]
    [InlineData("data/rawer/a.bin")]
    [InlineData("src/data/raw/a.bin")]
    [InlineData("logs/deep/run.txt")]
    [InlineData("gitignore.md")]
    public void Keeps(string relative) => Assert.False(Filter.Excludes(relative));
}
