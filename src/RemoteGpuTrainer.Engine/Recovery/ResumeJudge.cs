using System.Globalization;
using RemoteGpuTrainer.Engine.Checkpoints;

namespace RemoteGpuTrainer.Engine.Recovery;

/// <summary>
/// Whether a relaunched cell went on from its mirrored epoch or started over, judged by the first copy of its
/// resume artifact written in the new run. A later epoch alone proves nothing when the first look comes late:
/// a trainer that started over passes the mirrored epoch too, given time. So the copy's epoch must also be past
/// what a fresh start could have reached in the seconds its run had when it wrote the copy (box mtime less the
/// cell's start, both the box's clock), at the fastest pace seen between two copies of one run, with a margin.
/// </summary>
public static class ResumeJudge
{
    /// <summary>A fresh start is allowed this much more speed than the fastest pace seen.</summary>
    public const double Margin = 1.2;

    public sealed record Verdict(bool Proven, long Epoch, string Text);

    /// <param name="journal">The queue's recovery journal.</param>
    /// <param name="copies">The ledger's lines for this artifact's mirrored copy (one local path), oldest first.</param>
    /// <returns>Null while there is nothing to judge yet: no relaunch, already judged, no copy of the new run, or no pace to judge a later epoch by.</returns>
    public static Verdict? Judge(IReadOnlyList<JournalEntry> journal, IReadOnlyList<LedgerEntry> copies, string cell)
    {
        var (from, relaunchedAt, proven) = RecoveryJournal.Resume(journal, cell);
        if (proven is not null || relaunchedAt is null) return null;
        var timed = copies.Where(c => c.Epoch is not null && c.RunSeconds is not null).ToList();
        // A copy of the new run: mirrored after the relaunch, of a file written after its cell started there.
        var after = timed.Where(c => c.Time >= relaunchedAt && c.RunSeconds >= 0).ToList();
        if (after.Count == 0) return null;
        var first = after[0];
        var epoch = first.Epoch!.Value;
        if (from is null) return new(true, epoch, $"resume proven: the checkpoint went on from epoch none mirrored to {epoch}");
        if (epoch <= from)
            return new(false, epoch, $"the first checkpoint after the recovery is epoch {epoch}, not later than the mirrored epoch {from}: the trainer seems to have started over (does it resume from RGT_CHECKPOINT_DIR/latest.pth?)");
        var pace = FastestPace(timed.Where(c => c.Time < relaunchedAt).ToList()) ?? FastestPace(after);
        if (pace is null) return null;
        var reach = (long)Math.Floor(first.RunSeconds!.Value * pace.Value * Margin);
        var seconds = first.RunSeconds.Value.ToString("0", CultureInfo.InvariantCulture);
        var perEpoch = (1 / pace.Value).ToString("0.##", CultureInfo.InvariantCulture);
        if (epoch > reach)
            return new(true, epoch, $"resume proven: the checkpoint went on from epoch {from} to {epoch}, {seconds} s into the new run (a fresh start reaches epoch {reach} at most by then, at {perEpoch} s an epoch)");
        return new(false, epoch, $"the first checkpoint after the recovery is epoch {epoch}, written {seconds} s into the new run: a trainer that started over could have reached epoch {reach} by then (fastest pace seen: {perEpoch} s an epoch), so it does not prove the resume from epoch {from}");
    }

    /// <summary>
    /// Epochs a second over the fastest stretch between two copies of one run (later epoch, later in the run). Run
    /// seconds come from box mtimes: with a fraction of a second they are exact; whole seconds (a box whose stat has
    /// none) make each stretch a second shorter, and a stretch under 2 s is too short to tell.
    /// </summary>
    public static double? FastestPace(IReadOnlyList<LedgerEntry> copies)
    {
        static bool Whole(double s) => s == Math.Floor(s);
        var timed = copies.Where(c => c.Epoch is not null && c.RunSeconds is not null).ToList();
        double? best = null;
        for (int i = 1; i < timed.Count; i++)
        {
            var (a, b) = (timed[i - 1], timed[i]);
            long epochs = b.Epoch!.Value - a.Epoch!.Value;
            double seconds = b.RunSeconds!.Value - a.RunSeconds!.Value;
            if (Whole(a.RunSeconds.Value) || Whole(b.RunSeconds.Value)) seconds -= 1;
            if (epochs <= 0 || seconds < 1) continue;
            var rate = epochs / seconds;
            if (best is null || rate > best) best = rate;
        }
        return best;
    }
}
