using RemoteGpuTrainer.Engine.Text;
using Xunit;

namespace RemoteGpuTrainer.Engine.Tests;

public class ShellQuoteTests
{
    public static readonly TheoryData<string> Hostile = new()
    {
        "", " ", "a b", "it's", "'", "''", "\"", "$(touch /tmp/rgt-pwned)", "`id`", "$HOME", "${PATH}",
        "a\nb", "\n", "line1\r\nline2", "训练/检查点 最佳.pth", "\\", "\\'", "*", "?", "~", "!", "-rf", "; rm -rf /",
        "a|b&c>d<e", "\t", "emoji 🚀", "'\"'\"'", "$'\\x41'",
    };

    [Theory]
    [MemberData(nameof(Hostile))]
    public void Bash_receives_the_exact_string(string value)
    {
        Assert.Equal(value, TestFiles.Run("/bin/bash", "-c", "printf %s " + ShellQuote.Quote(value)));
    }

    [Theory]
    [MemberData(nameof(Hostile))]
    public void Posix_sh_receives_the_exact_string(string value)
    {
        Assert.Equal(value, TestFiles.Run("/bin/sh", "-c", "printf %s " + ShellQuote.Quote(value)));
    }

    [Fact]
    public void Random_hostile_strings_survive_bash_unchanged()
    {
        const string alphabet = "ab '\"$()`\\\n\r\t;|&<>*?~!#{}[]=%训练检查点🚀-";
        var rng = new Random(20261128);
        var words = Enumerable.Range(0, 120).Select(_ =>
        {
            var chars = new System.Text.StringBuilder();
            var len = rng.Next(0, 24);
            var i = 0;
            while (i < len)
            {
                var idx = rng.Next(alphabet.Length);
                // keep surrogate pairs whole
                if (char.IsHighSurrogate(alphabet[idx])) { chars.Append(alphabet, idx, 2); }
                else if (char.IsLowSurrogate(alphabet[idx])) { chars.Append(alphabet, idx - 1, 2); }
                else chars.Append(alphabet[idx]);
                i++;
            }
            return chars.ToString();
        }).ToList();
        // One bash run prints every word NUL-separated; any quoting bug shifts or merges words.
        var script = string.Join("; ", words.Select(w => "printf '%s\\0' " + ShellQuote.Quote(w)));
        var output = TestFiles.Run("/bin/bash", "-c", script);
        Assert.Equal(words, output.Split('\0')[..^1]);
    }

    [Fact]
    public void Nul_is_refused()
    {
        Assert.Throws<ArgumentException>(() => ShellQuote.Quote("a\0b"));
    }
}
