using System.IO.Compression;
using System.Text.Json;
using RemoteGpuTrainer.Engine.Checkpoints;
using Xunit;

namespace RemoteGpuTrainer.Engine.Tests;

public class LedgerCompactionTests
{
    static LedgerEntry Line(int n, string verdict, string file, string sha) =>
        new(DateTimeOffset.UnixEpoch.AddMinutes(n), "box", "/d/" + file, sha, "/l/" + file, sha, verdict, "Safe", "mirrored while the cell ran", "u", "c", n);

    [Fact]
    public void A_ledger_a_patrol_appends_to_for_weeks_stays_bounded_and_every_newest_line_a_decision_reads_is_kept()
    {
        var dir = TestFiles.TempDir();
        var ledger = new EvidenceLedger(Path.Combine(dir, "ledger.jsonl"), maxBytes: 64 << 10);
        // Three weeks of five-minute ticks for two mirrored files, a pull of each now and then.
        int n = 0;
        for (; n < 3 * 7 * 288; n++)
        {
            var file = n % 2 == 0 ? "a/latest.pth" : "b/latest.pth";
            ledger.Append(new[] { Line(n, "Verified", file, $"{n:x64}") });
            if (n % 50 == 0) ledger.Append(new[] { Line(n, "Pulled", "a/best.pth", $"{n:x64}") });
        }
        Assert.True(new FileInfo(ledger.FilePath).Length <= 64 << 10, "the live file stays under its bound");
        var left = ledger.Read();
        // The newest line of each key is the last one written, and the last copies the resume judge reads are there in order.
        Assert.Equal($"{n - 1:x64}", left.Last(e => e.LocalPath == "/l/b/latest.pth").RemoteSha256);
        Assert.Equal($"{n - 2:x64}", left.Last(e => e.LocalPath == "/l/a/latest.pth").RemoteSha256);
        var copies = left.Where(e => e.LocalPath == "/l/a/latest.pth").Select(e => e.Epoch!.Value).ToList();
        Assert.True(copies.Count >= EvidenceLedger.KeptPerKey, $"{copies.Count} copies kept");
        Assert.Equal(copies.Order(), copies);
        var origin = EvidenceLedger.OriginOf(left, "/l/a/best.pth", $"{(n - 1) / 50 * 50:x64}");
        Assert.NotNull(origin);
        // What went is archived, newest archive first, at most Archives of them; nothing is lost before it ages out.
        Assert.True(File.Exists(ledger.ArchivePath(1)));
        Assert.False(File.Exists(ledger.ArchivePath(EvidenceLedger.Archives + 1)));
        using var gz = new StreamReader(new GZipStream(File.OpenRead(ledger.ArchivePath(1)), CompressionMode.Decompress));
        var archived = gz.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonSerializer.Deserialize<LedgerEntry>(l)!).ToList();
        Assert.NotEmpty(archived);
        Assert.All(archived, a => Assert.True(a.Epoch < left.Where(e => e.LocalPath == a.LocalPath && e.Verdict == a.Verdict).Min(e => e.Epoch)));
    }

    [Fact]
    public void A_ledger_under_its_bound_is_never_rewritten_and_a_torn_line_still_fails_closed()
    {
        var dir = TestFiles.TempDir();
        var ledger = new EvidenceLedger(Path.Combine(dir, "ledger.jsonl"));
        ledger.Append(new[] { Line(1, "Pulled", "x.pth", new string('a', 64)) });
        var before = File.ReadAllText(ledger.FilePath);
        ledger.Append(new[] { Line(2, "Verified", "x.pth", new string('a', 64)) });
        Assert.StartsWith(before, File.ReadAllText(ledger.FilePath));
        Assert.False(File.Exists(ledger.ArchivePath(1)));
        File.AppendAllText(ledger.FilePath, "{\"Time\":");
        Assert.Equal("LedgerMalformed", Assert.Throws<RgtException>(() => ledger.Read()).ErrorId);
    }
}
