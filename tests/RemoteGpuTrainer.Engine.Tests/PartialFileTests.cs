using System.Security.Cryptography;
using RemoteGpuTrainer.Engine;
using RemoteGpuTrainer.Engine.Transfers;
using Xunit;

public class PartialFileTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("rgt-partial-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    static byte[] RandomBytes(int n) { var b = new byte[n]; Random.Shared.NextBytes(b); return b; }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(48 << 20)]
    public async Task Hash_covers_the_kept_prefix_and_the_new_bytes_in_order(int prefix)
    {
        var whole = RandomBytes((48 << 20) + 777_777);
        var path = Path.Combine(_dir, "f.rgt-partial");
        File.WriteAllBytes(path, whole[..prefix]);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using (var file = new PartialFile(path, prefix, whole.Length, hash, CancellationToken.None))
        {
            // new bytes arrive while a large prefix is still being hashed on another thread
            for (int at = prefix; at < whole.Length; at += 1 << 20)
            {
                var chunk = whole[at..Math.Min(whole.Length, at + (1 << 20))];
                file.Append(chunk, chunk.Length);
            }
            await file.CompleteAsync(whole.Length);
        }
        Assert.Equal(SHA256.HashData(whole), hash.GetHashAndReset());
        Assert.Equal(whole, File.ReadAllBytes(path));
    }

    [Fact]
    public void A_fresh_partial_is_preallocated_but_its_length_is_what_was_written()
    {
        var path = Path.Combine(_dir, "g.rgt-partial");
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var file = new PartialFile(path, 0, 64 << 20, hash, CancellationToken.None);
        file.Append(new byte[12345], 12345);
        Assert.Equal(12345, new FileInfo(path).Length);
    }

    [Fact]
    public void A_file_larger_than_the_free_space_fails_at_once_and_leaves_nothing()
    {
        var path = Path.Combine(_dir, "huge.rgt-partial");
        var free = new DriveInfo(_dir).AvailableFreeSpace;
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var ex = Assert.Throws<RgtException>(() => new PartialFile(path, 0, free + (1L << 40), hash, CancellationToken.None));
        Assert.Equal("LocalDiskFull", ex.ErrorId);
        Assert.Contains("free", ex.Message);
        Assert.False(File.Exists(path));
    }
}

public class PartialFileRangeTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("rgt-ranges-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Later_ranges_written_from_other_threads_are_hashed_in_file_order()
    {
        var whole = new byte[(24 << 20) + 4321];
        Random.Shared.NextBytes(whole);
        var path = Path.Combine(_dir, "r.rgt-partial");
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using (var file = new PartialFile(path, 0, whole.Length, hash, CancellationToken.None))
        {
            long third = whole.Length / 3;
            var later = Task.Run(() =>
            {
                // the last range first, in odd-sized chunks
                for (long at = whole.Length; at > third;)
                {
                    var from = Math.Max(third, at - 700_001);
                    var chunk = whole[(int)from..(int)at];
                    file.WriteAt(chunk, chunk.Length, from);
                    at = from;
                }
            });
            for (int at = 0; at < third; at += 1 << 20)
            {
                var chunk = whole[at..(int)Math.Min(third, at + (1 << 20))];
                file.Append(chunk, chunk.Length);
            }
            await later;
            await file.CompleteAsync(whole.Length);
        }
        Assert.Equal(SHA256.HashData(whole), hash.GetHashAndReset());
        Assert.Equal(whole, File.ReadAllBytes(path));
    }
}
