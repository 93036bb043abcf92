using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Probes;
using RemoteGpuTrainer.Engine.Queues;
using Xunit;

namespace RemoteGpuTrainer.Engine.Tests;

public class SlurmTests
{
    static readonly GpuHost Host = new() { Name = "login", DataDir = "/scratch/u/rgt", DurableDir = "/scratch/u/proj" };

    /// <summary>queue-state.sh's section for one Slurm queue of cells a..e, with the given extra records.</summary>
    static string Section(params string[] records)
    {
        var lines = new List<string> { "now\t1796150000", "queue\tq", "frozen\t# frozen", "frozen\ta cost=1: x", "frozen\tb cost=1: x", "frozen\tc cost=1: x", "frozen\td cost=1: x", "frozen\te cost=1: x", "meta\tsession\tslurm", "alive\t0" };
        lines.AddRange(records);
        lines.Add("end");
        return "@@RGT queues\n" + string.Concat(lines.Select(l => "|" + l + "\n")) + "\n@@RGT queues rc=0\n";
    }

    static Dictionary<string, GpuJob> Jobs(string output) =>
        QueueStateParser.Parse(output).SelectMany(q => QueueStateParser.Jobs(Host, q, TimeSpan.FromHours(1))).ToDictionary(j => j.Cell);

    [Fact]
    public void Scheduler_state_wins_while_the_job_is_held_and_markers_after()
    {
        var jobs = Jobs(Section(
            "job\ta\t11", "sched\t11|PENDING|0:00|(Priority)||1796149000",
            "job\tb\t12", "sched\t12|PENDING|0:00|(BeginTime)||1796149000", "cell\tb", "value\tstarted_at\t2026-12-01T10:00:00Z", "value\tstate\tInterrupted", "value\trestarts\t0",
            "job\tc\t13", "sched\t13|RUNNING|1:02|rgtnode|rgtnode|1796149000", "cell\tc", "value\tstate\tRunning", "value\tstarted_at\t2026-12-01T10:00:00Z",
            "job\td\t14", "final\t14\tCANCELLED\t0:15",
            "job\te\t15_2", "final\t15_2\tCOMPLETED\t0:0"));
        Assert.Equal(("Pending", "Priority", "11"), (jobs["a"].State, jobs["a"].Reason, jobs["a"].SchedulerJobId));
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1796149000), jobs["a"].PendingSince);
        Assert.Equal(("Requeued", "BeginTime"), (jobs["b"].State, jobs["b"].Reason));
        Assert.Equal(("Running", "rgtnode"), (jobs["c"].State, jobs["c"].NodeList));
        Assert.Null(jobs["c"].PendingSince);
        Assert.Equal("Cancelled", jobs["d"].State);
        // A job that left the queue as COMPLETED without the cell's end markers: nobody recorded the result.
        Assert.Equal("Stale", jobs["e"].State);
        Assert.Contains("15_2", jobs["e"].Reason);
        var q = QueueStateParser.Parse(Section("job\ta\t11", "sched\t11|RUNNING|0:01|n|n|1"))[0];
        Assert.True(q.Active);
        Assert.Equal(new[] { "11" }, q.Slurm!.ActiveIds);
    }

    [Fact]
    public void Markers_decide_once_the_job_left_and_an_unanswered_squeue_is_unknown_not_finished()
    {
        var done = Jobs(Section("job\ta\t11", "cell\ta", "value\tstate\tSucceeded", "value\texit_code\t0", "value\trestarts\t1"));
        Assert.Equal(("Succeeded", 1), (done["a"].State, done["a"].Restarts));
        var output = Section("schederr\tslurm_load_jobs error: Unable to contact slurm controller", "job\ta\t11", "job\tb\t12", "cell\tb", "value\tstate\tSucceeded");
        var blind = Jobs(output);
        Assert.Equal("Unknown", blind["a"].State);
        Assert.Contains("Unable to contact", blind["a"].Reason);
        Assert.Equal("Succeeded", blind["b"].State);
        Assert.True(QueueStateParser.Parse(output)[0].Active, "a queue whose jobs cannot be seen must not be resubmitted");
        // Gone from squeue, no end markers, no record anywhere: never taken for success.
        Assert.Equal("Stale", Jobs(Section("job\ta\t11", "final\t11\t"))["a"].State);
    }

    [Fact]
    public void Sbatch_arguments_and_job_names()
    {
        var args = new SlurmOptions(2, TimeSpan.FromHours(36.5), "gpu", "proj-1", new[] { "--mem=32G", "--qos=long" }, false).Arguments(new[] { "--signal=B:USR1@120", "--requeue" });
        Assert.Equal(new[] { "--gres=gpu:2", "--time=1-12:30:00", "--partition=gpu", "--account=proj-1", "--signal=B:USR1@120", "--requeue", "--mem=32G", "--qos=long" }, args);
        var ex = Assert.Throws<RgtException>(() => new SlurmOptions(null, null, null, null, new[] { "--mem=1G\n--wrap=id" }, false).Arguments(Array.Empty<string>()));
        Assert.Equal("SbatchOptionInvalid", ex.ErrorId);
        // The queue part of a job name never holds '.', so "<queue>.<cell>" is read back one way only.
        Assert.NotEqual(QueueScripts.JobName("lr.1"), QueueScripts.JobName("lr_1"));
        Assert.DoesNotContain('.', QueueScripts.JobName("a.b.c"));
    }

    [Fact]
    public void Pending_reasons()
    {
        Assert.True(PendingReasons.IsHopeless("JobHeldUser"));
        Assert.True(PendingReasons.IsHopeless("ReqNodeNotAvail, UnavailableNodes:n1"));
        Assert.False(PendingReasons.IsHopeless("QOSMaxJobsPerUserLimit"));
        Assert.False(PendingReasons.IsHopeless(null));
        Assert.True(PendingReasons.IsOrdinary("Priority"));
        Assert.False(PendingReasons.IsOrdinary("QOSMaxJobsPerUserLimit"));
    }

    static string Sinfo(string partitions, string nodes, int rc = 0) =>
        $"@@RGT partitions\n{string.Concat(partitions.Split('\n').Select(l => "|" + l + "\n"))}\n@@RGT partitions rc={rc}\n@@RGT nodes\n{string.Concat(nodes.Split('\n').Select(l => "|" + l + "\n"))}\n@@RGT nodes rc={rc}\n";

    [Fact]
    public void Sinfo_node_and_partition_states_become_findings()
    {
        var host = new GpuHost { Name = "login" };
        var ok = SlurmHealth.Parse(host, Sinfo("gpu|up", "n1|gpu|idle|none|gpu:a100:8\nn2|gpu|mixed|none|gpu:a100:8"), DateTimeOffset.UnixEpoch);
        Assert.Equal("Pass", ok.Status);
        Assert.Equal(new[] { "n1", "n2" }, ok.Nodes.Select(n => n.Node));
        Assert.Equal("gpu:a100:8", ok.Nodes[0].Gres);
        var bad = SlurmHealth.Parse(host, Sinfo("gpu|up\ndebug|inactive", "n1|gpu|drained|ECC errors|gpu:8\nn2|gpu|draining|kernel update|gpu:8\nn3|gpu|idle*|none|gpu:8\nn3|debug|idle*|none|gpu:8"), DateTimeOffset.UnixEpoch);
        Assert.Equal("Fail", bad.Status);
        Assert.Contains(bad.Findings, f => f.Status == "Fail" && f.Message.Contains("n1") && f.Message.Contains("ECC errors"));
        Assert.Contains(bad.Findings, f => f.Status == "Warn" && f.Message.Contains("n2 (gpu) is draining"));
        Assert.Contains(bad.Findings, f => f.Status == "Fail" && f.Message.Contains("n3 (gpu,debug) is idle*"));
        Assert.Contains(bad.Findings, f => f.Check == "partition" && f.Message.Contains("debug is inactive"));
        var blind = SlurmHealth.Parse(host, Sinfo("slurm_load_partitions: Unable to contact slurm controller", "", rc: 1), DateTimeOffset.UnixEpoch);
        Assert.Equal("Fail", blind.Status);
        Assert.Contains("unknown", blind.Findings[0].Message);
    }
}
