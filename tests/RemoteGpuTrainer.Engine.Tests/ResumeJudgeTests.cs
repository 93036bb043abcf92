using RemoteGpuTrainer.Engine.Checkpoints;
using RemoteGpuTrainer.Engine.Recovery;
using Xunit;

namespace RemoteGpuTrainer.Engine.Tests;

public class ResumeJudgeTests
{
    static readonly DateTimeOffset T0 = DateTimeOffset.UnixEpoch.AddDays(20000);

    /// <summary>A queue mirrored at 3 s an epoch up to epoch <paramref name="from"/>, taken back and relaunched at T0+60 s.</summary>
    static List<JournalEntry> Recovered(long from) => new()
    {
        new(T0.AddSeconds(50), "preempted"),
        new(T0.AddSeconds(55), "resume-from", "c", from),
        new(T0.AddSeconds(60), "relaunched", Detail: "c"),
    };

    static LedgerEntry Copy(double at, long epoch, double runSeconds) =>
        new(T0.AddSeconds(at), "box", "/d/latest.pth", "aa", "/m/latest.pth", "aa", "Verified", "Safe", "mirrored while the cell ran", "u", "c", epoch, runSeconds);

    static List<LedgerEntry> Before(long upTo) => Enumerable.Range(1, (int)upTo).Select(e => Copy(e * 3 + 2, e, e * 3 + 0.5)).ToList();

    [Fact]
    public void A_prompt_first_look_at_a_later_epoch_proves_the_resume()
    {
        var copies = Before(3).Append(Copy(65, 4, 3.5)).ToList();
        var v = ResumeJudge.Judge(Recovered(3), copies, "c");
        Assert.NotNull(v);
        Assert.True(v!.Proven, v.Text);
        Assert.Equal(4, v.Epoch);
        Assert.Equal("resume proven: the checkpoint went on from epoch 3 to 4, 4 s into the new run (a fresh start reaches epoch 1 at most by then, at 3 s an epoch)", v.Text);
    }

    [Fact]
    public void Started_over_seen_late_a_fresh_start_past_the_mirrored_epoch_is_not_taken_for_a_resume()
    {
        // The regression the chaos run's load found: the trainer threw its checkpoint away and started at epoch 1, and the
        // first look came 13.5 s into the new run, when it had reached epoch 4, past the mirrored 3.
        var copies = Before(3).Append(Copy(76, 4, 13.5)).ToList();
        var v = ResumeJudge.Judge(Recovered(3), copies, "c");
        Assert.NotNull(v);
        Assert.False(v!.Proven, v.Text);
        Assert.Contains("a trainer that started over could have reached epoch 5 by then", v.Text);
    }

    [Fact]
    public void An_epoch_not_later_than_the_mirrored_one_says_started_over_at_once_pace_or_not()
    {
        var v = ResumeJudge.Judge(Recovered(3), new List<LedgerEntry> { Copy(65, 1, 3.5) }, "c");
        Assert.False(v!.Proven);
        Assert.Contains("seems to have started over", v.Text);
    }

    [Fact]
    public void Without_a_pace_a_later_epoch_waits_for_the_next_copy_and_is_then_judged_by_the_new_runs_pace()
    {
        // One copy before the recovery gives no pace: the first new copy (epoch 4 at 3.5 s) is not judged yet.
        var copies = new List<LedgerEntry> { Copy(20, 3, 9.5), Copy(65, 4, 3.5) };
        Assert.Null(ResumeJudge.Judge(Recovered(3), copies, "c"));
        // The next copy of the new run gives the pace (1 epoch in 3 s): a fresh start could reach epoch 1 at most by 3.5 s.
        copies.Add(Copy(68, 5, 6.5));
        var v = ResumeJudge.Judge(Recovered(3), copies, "c");
        Assert.True(v!.Proven, v.Text);
        Assert.Equal(4, v.Epoch);
    }

    [Fact]
    public void Copies_of_the_old_run_and_files_older_than_the_new_run_prove_nothing()
    {
        // Mirrored after the relaunch but written before the new cell started (pushed by the recovery): no run seconds.
        var pushed = Copy(62, 3, 0) with { RunSeconds = null };
        Assert.Null(ResumeJudge.Judge(Recovered(3), Before(3).Append(pushed).ToList(), "c"));
        // Already judged: no second verdict.
        var judged = Recovered(3).Append(new JournalEntry(T0.AddSeconds(70), "proven", "c", 4)).ToList();
        Assert.Null(ResumeJudge.Judge(judged, Before(3).Append(Copy(75, 5, 6.5)).ToList(), "c"));
    }

    [Fact]
    public void The_fastest_pace_is_taken_from_two_copies_of_one_run_with_whole_second_rounding_against_the_judge()
    {
        Assert.Null(ResumeJudge.FastestPace(new List<LedgerEntry> { Copy(1, 1, 3) }));
        // 1 epoch between 3 s and 4 s is too close to tell; a restart (run seconds going back) is no stretch either.
        Assert.Null(ResumeJudge.FastestPace(new List<LedgerEntry> { Copy(1, 1, 3), Copy(2, 2, 4), Copy(3, 3, 1) }));
        // Whole seconds: 3 epochs in 7 s counts as 3 in 6 s; the slower stretch after it does not lower it.
        Assert.Equal(0.5, ResumeJudge.FastestPace(new List<LedgerEntry> { Copy(1, 1, 3), Copy(9, 4, 10), Copy(30, 5, 30) }));
        // Fractions of a second (GNU stat's %.9Y): taken as they are.
        Assert.Equal(1 / 3.5, ResumeJudge.FastestPace(new List<LedgerEntry> { Copy(1, 1, 3.25), Copy(5, 2, 6.75) }));
    }
}
