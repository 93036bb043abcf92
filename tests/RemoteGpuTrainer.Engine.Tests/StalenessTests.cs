using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Platforms;
using Xunit;

namespace RemoteGpuTrainer.Engine.Tests;

public class StalenessTests
{
    static GpuPlatform Platform(Dictionary<string, string> verified, bool clocks = true) => new()
    {
        Name = "p", DisplayName = "P", Verified = verified,
        DangerClocks = clocks ? new[] { new GpuDangerClock("stopped instance", "15 days", "released") } : Array.Empty<GpuDangerClock>(),
    };

    static readonly DateTimeOffset Now = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void A_stamp_counts_from_the_first_of_its_month_and_a_bad_one_is_due()
    {
        var p = Platform(new() { ["old"] = "2026-05", ["edge"] = "2026-07", ["new"] = "2026-11", ["bad"] = "June" });
        var due = Staleness.StaleFacts(p, Now, Staleness.DefaultAge).ToList();
        Assert.Equal(new[] { "bad", "old" }, due.Select(f => f.Fact));
        Assert.Equal(214, due[1].AgeDays);
        Assert.Null(due[0].AgeDays);
        Assert.Equal(new[] { "*" }, Staleness.StaleFacts(Platform(new()), Now, TimeSpan.FromDays(3650)).Select(f => f.Fact));
    }

    [Fact]
    public void The_registration_warning_needs_danger_clocks_and_old_or_missing_stamps()
    {
        Assert.Null(Staleness.DangerClockWarning(Platform(new() { ["a"] = "2026-05", ["b"] = "2026-10" }), Now, Staleness.DefaultAge));
        Assert.Contains("last verified 2026-05", Staleness.DangerClockWarning(Platform(new() { ["a"] = "2026-05" }), Now, Staleness.DefaultAge));
        Assert.Contains("never been verified", Staleness.DangerClockWarning(Platform(new()), Now, Staleness.DefaultAge));
        Assert.Null(Staleness.DangerClockWarning(Platform(new(), clocks: false), Now, Staleness.DefaultAge));
    }
}
