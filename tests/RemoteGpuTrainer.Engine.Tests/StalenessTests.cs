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

public class RegistrationAdviceTests
{
    static readonly DateTimeOffset Now = new(2026, 12, 1, 9, 0, 0, TimeSpan.Zero);

    static GpuPlatform Lambda(Dictionary<string, string> verified) => new()
    {
        Name = "lambda", DisplayName = "Lambda Cloud", Verified = verified, Notices = new[] { "WARN: there is no stop", "egress is free" },
        DangerClocks = new[]
        {
            new GpuDangerClock("NFS filesystem after last terminate", "until manually deleted", "$0.20/GiB/mo continues"),
            new GpuDangerClock("1-Click Cluster", "2-week minimum", "weekly billing"),
            new GpuDangerClock("in-OS shutdown", "immediate", "Alert state, still billing"),
            new GpuDangerClock("reserved capacity invoice", "~10 days unpaid", "reservation forfeited"),
        },
    };

    [Theory]
    [InlineData("immediate", 0.0)]
    [InlineData("~10 days unpaid", 10.0)]
    [InlineData("2-week minimum", 14.0)]
    [InlineData("15 days (console text: 关机 15 天后释放)", 15.0)]
    [InlineData("36 hours", 1.5)]
    [InlineData("unstated", null)]
    [InlineData("never self-stops", null)]
    public void A_clock_is_as_near_as_its_words_say(string after, double? days) =>
        Assert.Equal(days, RegistrationAdvice.Nearness(new GpuDangerClock("x", after, "y"))?.TotalDays);

    [Fact]
    public void Two_nearest_clocks_warn_with_their_stamp_and_the_rest_goes_to_verbose()
    {
        var host = new GpuHost { Name = "lam", HostName = "10.0.0.4", DataDir = "/home/ubuntu", DurableDir = "/lambda/nfs/fs1" };
        var advice = RegistrationAdvice.For(Lambda(new() { ["nfs"] = "2026-11" }), host, Now, _ => throw new InvalidOperationException("fresh stamps need no reminder"));
        Assert.Equal(2, advice.Warnings.Count);
        Assert.StartsWith("Lambda Cloud danger clock: in-OS shutdown after immediate", advice.Warnings[0]);
        Assert.StartsWith("Lambda Cloud danger clock: reserved capacity invoice", advice.Warnings[1]);
        Assert.All(advice.Warnings, w => Assert.Contains("(last verified 2026-11)", w));
        Assert.EndsWith("Get-GpuPlatform lambda shows all its facts.", advice.Warnings[1]);
        Assert.Equal(new[] { "Lambda Cloud: there is no stop", "Lambda Cloud: egress is free" }, advice.Details.Take(2));
        Assert.Equal(2, advice.Details.Count(d => d.Contains("danger clock")));
    }

    [Fact]
    public void A_stale_profile_is_said_once_a_day_in_place_of_the_second_clock_and_a_missing_durable_dir_always()
    {
        var file = Path.Combine(TestFiles.TempDir(), "reminders.json");
        var host = new GpuHost { Name = "lam", HostName = "10.0.0.4", DataDir = "/home/ubuntu" };
        var p = Lambda(new() { ["nfs"] = "2026-01" });
        var first = RegistrationAdvice.For(p, host, Now, n => RegistrationAdvice.StaleReminderDue(file, n, Now));
        Assert.Equal(3, first.Warnings.Count);
        Assert.Contains("last verified 2026-01 (nfs)", first.Warnings[1]);
        Assert.Contains("Set-GpuHost lam -DataDir/-DurableDir", first.Warnings[2]);
        var again = RegistrationAdvice.For(p, host, Now.AddHours(3), n => RegistrationAdvice.StaleReminderDue(file, n, Now.AddHours(3)));
        Assert.DoesNotContain(again.Warnings, w => w.Contains("fact(s) of its profile"));
        Assert.Equal(2, again.Warnings.Count(w => w.Contains("danger clock")));
        var nextDay = RegistrationAdvice.For(p, host, Now.AddDays(1), n => RegistrationAdvice.StaleReminderDue(file, n, Now.AddDays(1)));
        Assert.Contains(nextDay.Warnings, w => w.Contains("fact(s) of its profile"));
        // A reminder file that cannot be read counts as "due", and is written anew.
        File.WriteAllText(file, "{ not json");
        Assert.True(RegistrationAdvice.StaleReminderDue(file, "lambda", Now));
        Assert.False(RegistrationAdvice.StaleReminderDue(file, "lambda", Now));
    }
}
