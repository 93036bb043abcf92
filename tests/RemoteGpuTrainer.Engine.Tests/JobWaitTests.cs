using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Queues;
using Xunit;

namespace RemoteGpuTrainer.Engine.Tests;

/// <summary>Wait-GpuJob's rules without a box: what is handed out, what is given up at once, what is read again.</summary>
public class JobWaitTests
{
    static GpuJob Job(string host, string cell, string state, string? reason = null, string queue = "q", int? epoch = null) =>
        new() { Name = host, QueueId = queue, Cell = cell, State = state, Reason = reason, SchedulerJobId = "77", Epoch = epoch, Epochs = epoch is null ? null : 10 };

    [Fact]
    public void A_final_cell_is_handed_out_once_the_moment_it_is_final()
    {
        var wait = new JobWait(new[] { Job("a", "c1", "Running", epoch: 3), Job("a", "c2", "Succeeded") });
        var first = wait.Next();
        Assert.Equal(new[] { "c2" }, first.Final.Select(j => j.Cell));
        Assert.Equal(new[] { "c1" }, first.Pending.Select(j => j.Cell));
        Assert.Equal("1 of 2 cells final; c1 epoch 3/10", first.Status);
        Assert.Equal(50, first.Percent);
        wait.Update(new[] { Job("a", "c1", "Failed"), Job("a", "other", "Succeeded") });
        var second = wait.Next();
        Assert.Equal(new[] { "c1" }, second.Final.Select(j => j.Cell));
        Assert.Empty(second.Pending);
        Assert.Equal(100, second.Percent);
        Assert.Empty(wait.Next().Final);
    }

    [Fact]
    public void A_held_job_and_a_preempted_cell_are_given_up_at_once_an_ordinary_pending_one_is_waited_for()
    {
        var wait = new JobWait(new[]
        {
            Job("a", "held", "Pending", "JobHeldUser"), Job("a", "busy", "Pending", "Resources"),
            Job("b", "spot", "Preempted", "runpod took back interruptible rental 9"),
        });
        var look = wait.Next();
        Assert.Equal(new[] { ("held", "JobCannotStart"), ("spot", "RentalPreempted") }, look.GivenUp.Select(g => (g.Job.Cell, g.Error.ErrorId)));
        Assert.Contains("pending on JobHeldUser", look.GivenUp[0].Error.Message);
        Assert.Equal(new[] { "busy" }, look.Pending.Select(j => j.Cell));
        Assert.Equal("0 of 1 cells final; 1 pending (Resources)", look.Status);
    }

    [Fact]
    public void Each_host_is_read_once_with_its_queue_when_its_cells_share_one()
    {
        var pending = new[] { Job("a", "c1", "Running"), Job("a", "c2", "Running"), Job("b", "x", "Running", queue: "q1"), Job("B", "y", "Running", queue: "q2") };
        Assert.Equal(new (string, string?)[] { ("a", "q"), ("b", null) }, JobWait.Targets(pending));
        var wait = new JobWait(pending);
        wait.Forget("B");
        Assert.Equal(new[] { "c1", "c2" }, wait.Next().Pending.Select(j => j.Cell));
    }

    [Fact]
    public void A_timeout_names_every_cell_still_running_with_its_epoch()
    {
        var e = JobWait.TimedOut(new[] { Job("a", "c1", "Running", epoch: 4) }, TimeSpan.FromHours(12));
        Assert.Equal("WaitTimeout", e.ErrorId);
        Assert.Equal("Still not final after 12:00:00: a/c1 (Running, epoch 4/10).", e.Message);
    }
}
