using System.Security.Cryptography;
using RemoteGpuTrainer.Engine.Scripts;
using RemoteGpuTrainer.Engine.Text;
using Xunit;

namespace RemoteGpuTrainer.Engine.Tests;

/// <summary>The box's hashing (hash.sh) and range streaming (stream-range.sh), run by real bash on real files.</summary>
public sealed class BoxHashTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("rgt-hash-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    string NewFile(string name, int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        var path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    static string Sha(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path))).ToLowerInvariant();

    /// <summary>Runs hash.sh's functions in bash with HOME in the temp folder; <paramref name="before"/> runs first.</summary>
    string Hash(string call, string before = "") =>
        QueueFileTests.RunBash($"HOME='{_dir}/home'\n{before}\n{BoxScript.Load("hash").Text}\n{call}").Trim();

    [Fact]
    public void The_box_hash_is_the_files_SHA256_with_openssl_and_with_only_sha256sum()
    {
        var f = NewFile("it's a (weird) name.bin", 3_000_000, 1);
        var q = ShellQuote.Quote(f);
        Assert.Equal(Sha(f), Hash($"rgt_sha256 {q}"));
        // An openssl that prints something else than a hash (or is missing) falls back to sha256sum.
        Assert.Equal(Sha(f), Hash($"rgt_sha256 {q}", "openssl() { echo 'SHA2-256(stdin)= not-a-hash'; }"));
        Assert.Equal(Sha(f), Hash($"rgt_sha256 {q}", "openssl() { return 127; }"));
        Assert.Equal("rc=1", Hash($"rgt_sha256 {ShellQuote.Quote(f + ".missing")} || echo rc=$?"));
    }

    [Fact]
    public void The_hash_cache_serves_an_unchanged_file_and_never_a_rewritten_one()
    {
        var f = NewFile("ckpt.pth", 100_000, 2);
        var q = ShellQuote.Quote(f);
        File.SetLastWriteTimeUtc(f, DateTime.UtcNow.AddMinutes(-5));
        var first = Sha(f);
        Assert.Equal(first, Hash($"rgt_sha256_cached {q}"));
        // A cached entry is served without reading the file: prove it by making the file unreadable to the hasher.
        Assert.Equal(first, Hash($"rgt_sha256_cached {q}", "openssl() { return 127; }; sha256sum() { echo broken; return 1; }"));
        // A same-size rewrite (new content, new mtime) is hashed again.
        var bytes = File.ReadAllBytes(f);
        bytes[0] ^= 0xFF;
        File.WriteAllBytes(f, bytes);
        File.SetLastWriteTimeUtc(f, DateTime.UtcNow.AddMinutes(-4));
        Assert.Equal(Sha(f), Hash($"rgt_sha256_cached {q}"));
        Assert.NotEqual(first, Sha(f));
    }

    [Fact]
    public void A_file_written_just_now_is_not_cached_unless_the_caller_knows_it_is_final()
    {
        var f = NewFile("fresh.pth", 50_000, 3);
        var q = ShellQuote.Quote(f);
        var broken = "openssl() { return 127; }; sha256sum() { return 1; }";
        Assert.Equal(Sha(f), Hash($"rgt_sha256_cached {q}"));
        Assert.Equal("miss", Hash($"rgt_sha256_cached {q} || echo miss", broken));
        Assert.Equal(Sha(f), Hash($"rgt_sha256_cached {q} final"));
        Assert.Equal(Sha(f), Hash($"rgt_sha256_cached {q}", broken));
    }

    [Fact]
    public void A_remembered_hash_is_tied_to_the_files_inode_size_and_mtime()
    {
        var f = NewFile("copy.pth", 10_000, 4);
        var q = ShellQuote.Quote(f);
        var broken = "openssl() { return 127; }; sha256sum() { return 1; }";
        Assert.Equal(new string('a', 64), Hash($"rgt_sha256_remember {q} {new string('a', 64)}; rgt_sha256_cached {q}", broken));
        File.SetLastWriteTimeUtc(f, DateTime.UtcNow.AddMinutes(-1));
        Assert.Equal("miss", Hash($"rgt_sha256_cached {q} || echo miss", broken));
    }

    [Theory]
    [InlineData(0, 1_000_000)]
    [InlineData(123_457, 500_000)]
    [InlineData(999_999, 1)]
    public void A_streamed_range_is_exactly_those_bytes(long start, long length)
    {
        var f = NewFile("range $(x).bin", 1_000_000, 5);
        var script = BoxScript.Load("stream-range").Set("FILE", f).Set("START", start).Set("LENGTH", length).Command;
        var (bytes, rc) = RunBinary(script);
        Assert.Equal(0, rc);
        Assert.Equal(File.ReadAllBytes(f).AsSpan((int)start, (int)length).ToArray(), bytes);
    }

    [Fact]
    public void A_file_the_box_cannot_read_is_status_2_with_nothing_on_stdout()
    {
        var script = BoxScript.Load("stream-range").Set("FILE", Path.Combine(_dir, "gone.bin")).Set("START", 0).Set("LENGTH", 10).Command;
        var (bytes, rc) = RunBinary(script);
        Assert.Equal(2, rc);
        Assert.Empty(bytes);
    }

    static (byte[] Bytes, int ExitCode) RunBinary(string command)
    {
        var psi = new System.Diagnostics.ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(command);
        using var p = System.Diagnostics.Process.Start(psi)!;
        using var ms = new MemoryStream();
        p.StandardOutput.BaseStream.CopyTo(ms);
        p.WaitForExit();
        return (ms.ToArray(), p.ExitCode);
    }
}
