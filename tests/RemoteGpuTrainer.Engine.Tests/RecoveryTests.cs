using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Queues;
using RemoteGpuTrainer.Engine.Recovery;
using Xunit;

namespace RemoteGpuTrainer.Engine.Tests;

public class RecoveryTests
{
    static readonly GpuHost Host = new() { Name = "box", HostName = "h" };

    [Fact]
    public void A_policy_round_trips_and_one_that_cannot_be_read_is_an_error_not_no_policy()
    {
        var store = new RecoveryStore(TestFiles.TempDir());
        Assert.Null(store.Find("box", "sweep"));
        var policy = RecoveryPolicy.For("box", "sweep", new GpuPlatformDefaults("best.pth", "latest.pth"), "/tmp/m", 2, 5.5m, DateTimeOffset.UnixEpoch);
        store.Save(policy);
        var back = store.Find("box", "sweep")!;
        Assert.Equal(new[] { "latest.pth", "best.pth" }, back.Artifacts);
        Assert.Equal((2, 5.5m, "/tmp/m"), (back.MaxRecoveries, back.MaxSpend, back.MirrorRoot));
        File.WriteAllText(Directory.GetFiles(store.Directory, "*.json").Single(), "{ not json");
        Assert.Equal("RecoveryPolicyUnreadable", Assert.Throws<RgtException>(() => store.Find("box", "sweep")).ErrorId);
    }

    [Theory]
    [InlineData("a", "01-a")]
    [InlineData("odd name 'q' $(touch pwned) 训练", "01-odd_name_q_touch_pwned_")]
    [InlineData("../../etc", "01-_.._etc")]
    public void A_cell_mirror_folder_stays_under_the_mirror_root_whatever_the_cell_is_called(string cell, string folder)
    {
        var policy = new RecoveryPolicy("box/x", "q", new[] { "latest.pth" }, "/m");
        var dir = policy.CellDirectory(1, cell);
        Assert.Equal(Path.Combine("/m", "box_x", "q", folder), dir);
        Assert.StartsWith("/m/", Path.GetFullPath(dir));
    }

    [Fact]
    public void The_probe_hashes_settled_files_reports_ones_still_being_written_busy_and_skips_missing_ones_on_real_bash()
    {
        var dir = TestFiles.TempDir();
        var settled = Path.Combine(dir, "latest.pth");
        File.WriteAllText(settled, "epoch 3");
        File.SetLastWriteTimeUtc(settled, DateTime.UtcNow.AddMinutes(-1));
        var saving = Path.Combine(dir, "best.pth");
        File.WriteAllText(saving, "being written");
        // The trainer goes on writing it while the probe waits for it to settle.
        using var stop = new CancellationTokenSource();
        var writer = Task.Run(async () => { while (!stop.IsCancellationRequested) { File.AppendAllText(saving, "."); await Task.Delay(300); } });
        var policy = new RecoveryPolicy("box", "q", new[] { "latest.pth", "best.pth", "other.pth" }, "/m");
        var jobs = new[] { new GpuJob { Name = "box", QueueId = "q", Index = 4, Cell = "c", State = "Running", CheckpointDir = dir } };
        var output = QueueFileTests.RunBash($"export HOME='{dir}/home'; " + CheckpointMirror.Script(jobs, policy, new GpuHost { Name = "box", HostName = "h", DataDir = dir }));
        stop.Cancel();
        writer.Wait();
        var (files, busy) = CheckpointMirror.Parse(Host, new Ssh.CommandOutput(0, output, "", TimeSpan.Zero, null));
        var f = Assert.Single(files);
        Assert.Equal((4, "latest.pth", 7L), (f.Index, f.Name, f.Size));
        // The pull reads the probe's hard link: the version it hashed, whatever the trainer saves next.
        Assert.Equal($"{dir}/.rgt/mirror/q/4-latest.pth", f.Source);
        File.WriteAllText(settled + ".new", "epoch 4");
        File.Move(settled + ".new", settled, overwrite: true);
        Assert.Equal("epoch 3", File.ReadAllText(f.Source));
        Assert.Equal(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.ASCII.GetBytes("epoch 3"))).ToLowerInvariant(), f.Sha256);
        Assert.Equal(new[] { (4, "best.pth") }, busy);
    }

    [Fact]
    public void A_probe_answer_that_is_cut_off_or_failed_is_an_error_and_noise_is_ignored()
    {
        Ssh.CommandOutput Out(string text) => new(0, text, "", TimeSpan.Zero, null);
        Assert.Equal("MirrorProbeFailed", Assert.Throws<RgtException>(() => CheckpointMirror.Parse(Host, Out("@@RGT mirror\n|FILE\t1\tlatest.pth\t3\t4\t" + new string('a', 64) + "\n"))).ErrorId);
        Assert.Equal("MirrorProbeFailed", Assert.Throws<RgtException>(() => CheckpointMirror.Parse(Host, Out(Parsing.ProbeSections.Frame("mirror", "stat: cannot stat", 2)))).ErrorId);
        var (files, busy) = CheckpointMirror.Parse(Host, Out("Welcome to the box\n" + Parsing.ProbeSections.Frame("mirror",
            "FILE\t1\tlatest.pth\t3\t4\tnot-a-hash\t/s/a\nFILE\tx\tlatest.pth\t3\t4\t" + new string('a', 64) + "\t/s/b\nFILE\t2\tbest.pth\t10\t99\t" + new string('b', 64) + "\t/s/2-best.pth")));
        Assert.Equal(2, Assert.Single(files).Index);
        Assert.Empty(busy);
        // The mtime with its fraction (GNU stat) is kept for the resume judge; a malformed one drops the line.
        (files, _) = CheckpointMirror.Parse(Host, Out(Parsing.ProbeSections.Frame("mirror",
            "FILE\t1\tlatest.pth\t3\t1700000000.250000000\t" + new string('a', 64) + "\t/s/a\nFILE\t2\tlatest.pth\t3\t17.0.1\t" + new string('a', 64) + "\t/s/b")));
        Assert.Equal((1700000000L, 1700000000.25), (Assert.Single(files).MTime, files[0].FineMTime));
    }

    [Fact]
    public void A_recovery_goes_on_from_the_mirrored_latest_pth_even_when_best_pth_was_mirrored_at_a_later_epoch()
    {
        var policy = RecoveryPolicy.For("box", "sweep", new GpuPlatformDefaults("best.pth", "latest.pth"), TestFiles.TempDir(), 2, 5m, DateTimeOffset.UnixEpoch);
        var dir = policy.CellDirectory(1, "c");
        Directory.CreateDirectory(dir);
        void Mirror(string name, long epoch)
        {
            File.WriteAllText(Path.Combine(dir, name), "x");
            File.WriteAllText(Path.Combine(dir, name) + ".rgt-mirror.json", System.Text.Json.JsonSerializer.Serialize(new CheckpointMirror.Copy("/d/" + name, new string('a', 64), epoch, DateTimeOffset.UnixEpoch)));
        }
        Assert.Null(CheckpointMirror.LastEpoch(policy, 1, "c"));
        Mirror("best.pth", 14);
        Assert.Equal(14, CheckpointMirror.LastEpoch(policy, 1, "c"));
        // latest.pth was still being saved at the last look that took best.pth: the trainer resumes from latest.pth's epoch.
        Mirror("latest.pth", 13);
        Assert.Equal(13, CheckpointMirror.LastEpoch(policy, 1, "c"));
    }

    [Fact]
    public void The_journal_tells_a_half_done_recovery_and_each_cells_resume_verdict()
    {
        var journal = new RecoveryJournal(Path.Combine(TestFiles.TempDir(), "q.journal.jsonl"));
        var t = DateTimeOffset.UnixEpoch;
        journal.Add(new JournalEntry(t, "preempted"));
        journal.Add(new JournalEntry(t.AddSeconds(1), "restarting"));
        Assert.True(Recoverer.Pending(journal.Read()), "killed after asking for the start: the next tick goes on");
        journal.Add(new JournalEntry(t.AddSeconds(5), "restarted"));
        journal.Add(new JournalEntry(t.AddSeconds(6), "resume-from", "a", 7));
        Assert.True(Recoverer.Pending(journal.Read()));
        Assert.Equal((7L, (DateTimeOffset?)null, (bool?)null), RecoveryJournal.Resume(journal.Read(), "a"));
        journal.Add(new JournalEntry(t.AddSeconds(7), "relaunched"));
        Assert.False(Recoverer.Pending(journal.Read()));
        Assert.Equal(1, RecoveryJournal.Recoveries(journal.Read()));
        Assert.Equal((7L, (DateTimeOffset?)t.AddSeconds(7), (bool?)null), RecoveryJournal.Resume(journal.Read(), "a"));
        journal.Add(new JournalEntry(t.AddSeconds(30), "proven", "a", 9));
        Assert.Equal((bool?)true, RecoveryJournal.Resume(journal.Read(), "a").Proven);
        Assert.Equal((null, null, null), RecoveryJournal.Resume(journal.Read(), "b"));
        // A torn last line (a tick killed mid-write) is skipped; the rest stands.
        File.AppendAllText(journal.FilePath, "{\"Time\":");
        Assert.Equal(6, journal.Read().Count);
    }

    [Fact]
    public void A_second_tick_does_not_get_the_recovery_lock_while_the_first_holds_it()
    {
        var store = new RecoveryStore(TestFiles.TempDir());
        using (var first = store.TryLock("box", "q"))
        {
            Assert.NotNull(first);
            Assert.Null(store.TryLock("box", "q"));
            using var other = store.TryLock("box", "other");
            Assert.NotNull(other);
        }
        using var again = store.TryLock("box", "q");
        Assert.NotNull(again);
    }

    [Fact]
    public void A_tick_tries_the_queues_of_hosts_it_found_down_and_finishes_a_half_done_recovery_elsewhere()
    {
        var store = new RecoveryStore(TestFiles.TempDir());
        foreach (var (h, q) in new[] { ("down", "a"), ("up", "b"), ("up", "c") })
            store.Save(new RecoveryPolicy(h, q, new[] { "latest.pth" }, "/m"));
        new RecoveryJournal(store.JournalOf("up", "c")).Add(new JournalEntry(DateTimeOffset.UnixEpoch, "restarting"));
        var hosts = new[] { new GpuHost { Name = "down", HostName = "h" }, new GpuHost { Name = "up", HostName = "h" } };
        var reports = new[] { new GpuPatrolReport { Name = "down", Preempted = true }, new GpuPatrolReport { Name = "up", Verdict = "Healthy" } };
        var (work, errors) = Recoverer.Candidates(hosts, reports, store);
        Assert.Equal(new[] { "down/a", "up/c" }, work.Select(w => $"{w.Host.Name}/{w.Policy.QueueId}"));
        Assert.Empty(errors);
    }
}
