using RemoteGpuTrainer.Engine.Hosts;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Queues;
using RemoteGpuTrainer.Engine.Recovery;
using RemoteGpuTrainer.Engine.Rentals;
using Xunit;

namespace RemoteGpuTrainer.Engine.Tests;

/// <summary>The money and the bookkeeping of a recovery onto the next offer: spend, time left, the journal's view of a recovery under way, the epoch chain.</summary>
public class RecoverySpendTests
{
    static readonly DateTimeOffset T0 = DateTimeOffset.UnixEpoch.AddDays(20000);

    static RecoveryPolicy Policy(decimal? price) =>
        new RecoveryPolicy("spot", "q", new[] { "latest.pth" }, "/m", CreatedAt: T0) { StartPrice = price };

    [Fact]
    public void Spend_counts_each_rental_from_when_it_billed_until_it_was_taken_back_and_the_last_until_now()
    {
        var entries = new[]
        {
            new JournalEntry(T0.AddHours(2), "preempted", Rental: "1", Price: 0.5m),          // first box: 2 h at 0.50
            new JournalEntry(T0.AddHours(2.1), "renting", Rental: "spot-r1"),
            new JournalEntry(T0.AddHours(2.25), "rented", Rental: "spot-r1", Price: 1.2m),     // second: from 2.25 h
            new JournalEntry(T0.AddHours(3.25), "preempted", Rental: "2", Price: 1.2m),        // … 1 h at 1.20
            new JournalEntry(T0.AddHours(3.5), "restarting"),
            new JournalEntry(T0.AddHours(3.75), "restarted"),                                   // the same again from 3.75 h
        };
        Assert.Equal(1.0m + 1.2m + 0.6m, RecoverySpend.Spent(Policy(0.5m), entries, T0.AddHours(4.25)));
        Assert.Equal(0m, RecoverySpend.Spent(Policy(null), Array.Empty<JournalEntry>(), T0.AddHours(4)));
    }

    [Fact]
    public void A_rental_that_was_rented_and_abandoned_stops_counting_when_it_was_terminated()
    {
        var entries = new[]
        {
            new JournalEntry(T0.AddHours(1), "preempted", Price: 1m),
            new JournalEntry(T0.AddHours(1), "rented", Rental: "spot-r1", Price: 2m),
            new JournalEntry(T0.AddHours(1.5), "abandoned", Rental: "spot-r1"),
        };
        Assert.Equal(1m + 1m, RecoverySpend.Spent(Policy(1m), entries, T0.AddHours(10)));
    }

    [Fact]
    public void Time_left_comes_from_the_epochs_per_hour_seen_and_the_epochs_each_unfinished_cell_has_left()
    {
        var seen = new List<QueueCache.SeenCell>
        {
            new("q", 1, "a", "Succeeded", true, T0.AddSeconds(100), 10, 10, T0),            // 10 s an epoch
            new("q", 2, "b", "Running", false, T0.AddSeconds(230), 3, 10, T0.AddSeconds(200)), // 10 s an epoch
            new("q", 3, "c", "Pending", false, T0.AddSeconds(230)),
        };
        var (hours, how) = RecoverySpend.Remaining(seen, new[] { "b", "c" }, cell => cell == "b" ? 4 : null);
        // b: 10 - 4 mirrored = 6 epochs; c: never seen running, as many as the most seen (10).
        Assert.Equal(16 * 10 / 3600.0, hours, 6);
        Assert.Equal("16 epoch(s) left at 10 s an epoch", how);
        var (guess, said) = RecoverySpend.Remaining(new[] { seen[2] }, new[] { "c" }, _ => null);
        Assert.Equal(RecoverySpend.FallbackHours, guess);
        Assert.Contains("no epoch rate seen yet", said);
    }

    [Fact]
    public void The_journal_tells_the_recovery_under_way_the_cells_of_the_last_relaunch_and_a_stop_that_stands()
    {
        var e = new List<JournalEntry>
        {
            new(T0, "started"),
            new(T0.AddMinutes(1), "preempted", Rental: "11"),
            new(T0.AddMinutes(2), "renting", Detail: "b\nc", Rental: "spot-r1"),
            new(T0.AddMinutes(3), "no-offer"),
        };
        Assert.False(Recoverer.Pending(e), "waiting for capacity is not a half-done step: the next tick asks the provider again");
        e.Add(new(T0.AddMinutes(4), "rented", Rental: "spot-r1"));
        Assert.True(Recoverer.Pending(e));
        Assert.Null(RecoveryJournal.LastRelaunched(e));
        e.Add(new(T0.AddMinutes(5), "resume-from", "b", 4));
        e.Add(new(T0.AddMinutes(5), "relaunched", Detail: "b\nc", Rental: "12"));
        e.Add(new(T0.AddMinutes(9), "proven", "b", 6));
        Assert.False(Recoverer.Pending(e), "a verdict on a resume is no recovery step");
        Assert.Empty(RecoveryJournal.Current(e));
        Assert.Equal(new[] { "b", "c" }, RecoveryJournal.LastRelaunched(e));
        Assert.Equal(1, RecoveryJournal.Recoveries(e));
        e.Add(new(T0.AddMinutes(20), "preempted", Rental: "12"));
        e.Add(new(T0.AddMinutes(20), "stopped", Detail: "-MaxSpend 5 reached"));
        Assert.False(Recoverer.Pending(e));
        Assert.Equal("stopped", RecoveryJournal.Current(e)[^1].Step);
        // Start-GpuQueue -Recover again: a new count, nothing under way.
        e.Add(new(T0.AddMinutes(30), "started"));
        Assert.Equal(0, RecoveryJournal.Recoveries(e));
        Assert.Empty(RecoveryJournal.Current(e));
    }

    [Fact]
    public void A_cells_chain_names_each_box_and_the_epochs_it_trained_there()
    {
        var e = new List<JournalEntry>
        {
            new(T0, "preempted", Rental: "11"),
            new(T0, "resume-from", "b", 7),
            new(T0, "resume-from", "c", null),
            new(T0, "relaunched", Rental: "12"),
            new(T0, "preempted", Rental: "12"),
            new(T0, "resume-from", "b", 12),
            new(T0, "relaunched", Rental: "13"),
        };
        Assert.Equal("rental 11 epoch 0–7 → rental 12 epoch 7–12 → rental 13 epoch 12–15", RecoveryJournal.Chain(e, "b", 15));
        Assert.Equal("rental 11 epoch 0–0 → rental 12 epoch 0–…", RecoveryJournal.Chain(e, "c", null));
        Assert.Null(RecoveryJournal.Chain(e, "a", 3));
    }

    [Fact]
    public void A_rentals_template_is_kept_in_the_inventory_and_offers_picked_by_hand_make_one()
    {
        var inventory = new HostInventory(Path.Combine(TestFiles.TempDir(), "hosts.yml"));
        var template = new RentalTemplate(new[] { "vastai", "runpod" }, "A100", 2, 1.5m, true, "US", "pytorch:2.4", 80, "root");
        inventory.Update(l => { l.Add(new GpuHost { Name = "spot", HostName = "h", RentalTemplate = template }); l.Add(new GpuHost { Name = "bare", HostName = "b" }); return l; });
        var back = inventory.Load();
        Assert.Equal(template with { Providers = back[0].RentalTemplate!.Providers }, back[0].RentalTemplate);
        Assert.Equal(new[] { "vastai", "runpod" }, back[0].RentalTemplate!.Providers);
        Assert.Null(back[1].RentalTemplate);
        var query = template.Query();
        Assert.Equal(("A100", 2, 1.5m, "US", true), (query.GpuName, query.GpuCount, query.MaxHourlyPrice, query.Region, query.Interruptible));

        var offers = new[]
        {
            new GpuOffer { Provider = "vastai", OfferId = "1", Gpu = "A100 SXM4", GpuCount = 1, HourlyPrice = 0.61m, Interruptible = true },
            new GpuOffer { Provider = "runpod", OfferId = "x", Gpu = "A100 SXM", GpuCount = 1, HourlyPrice = 1.05m, Interruptible = true },
        };
        var picked = RentalTemplate.FromOffers(offers, null, 50, null);
        Assert.Equal(("A100 SXM4", 1, 1.05m, true), (picked.Gpu, picked.GpuCount, picked.MaxHourlyPrice, picked.Interruptible));
        Assert.Equal(new[] { "vastai", "runpod" }, picked.Providers);
        Assert.Equal("NoOffer", Assert.Throws<RgtException>(() => RentalTemplate.FromOffers(Array.Empty<GpuOffer>(), null, 50, null)).ErrorId);
    }
}
