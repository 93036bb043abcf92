using RemoteGpuTrainer.Engine.Queues;
using Xunit;

namespace RemoteGpuTrainer.Engine.Tests;

public class QueueFileTests
{
    [Fact]
    public void Both_forms_comments_crlf_bom_and_costs()
    {
        var text = "\uFEFF# sweep\r\nconfigs/unet_a.yaml seg 40\r\n\r\n  configs/unet_b.yml seg 10 cost=3  \r\neval cost=2.5: python eval.py --all\r\n名字 有空格: echo '$(id)'\r\n";
        var cells = QueueFile.Parse(text, "q.txt", "python train.py --config {config} --task {task} --epochs {epochs} --name {name} --out {checkpoint_dir} --log {log}");
        Assert.Equal(new[] { "unet_a", "unet_b", "eval", "名字 有空格" }, cells.Select(c => c.Name));
        Assert.Equal(new[] { 1, 2, 3, 4 }, cells.Select(c => c.Index));
        Assert.Equal(new[] { 40.0, 3, 2.5, 1 }, cells.Select(c => c.Cost));
        Assert.Equal("python train.py --config 'configs/unet_a.yaml' --task 'seg' --epochs 40 --name 'unet_a' --out \"$RGT_CHECKPOINT_DIR\" --log \"$RGT_LOG\"", cells[0].Command);
        Assert.Equal("echo '$(id)'", cells[3].Command);
        Assert.Equal(6, cells[3].Line);
    }

    [Fact]
    public void Frozen_form_round_trips()
    {
        var cells = QueueFile.Parse("a.yaml t 2\nb: echo 'x: y'\n", "q", "run {config} {epochs}");
        var back = QueueFile.Parse(QueueFile.Freeze(cells), "frozen", null);
        Assert.Null(QueueFile.CompareWithFrozen(cells, back));
        Assert.Equal(cells.Select(c => (c.Name, c.Command, c.Cost)), back.Select(c => (c.Name, c.Command, c.Cost)));
    }

    [Fact]
    public void Appending_is_allowed_reordering_is_not()
    {
        var v1 = QueueFile.Parse("a: x\nb: y\n", "q", null);
        Assert.Null(QueueFile.CompareWithFrozen(v1, QueueFile.Parse("a: x\nb: y\nc: z\n", "q", null)));
        Assert.Contains("cell 1 changed", QueueFile.CompareWithFrozen(v1, QueueFile.Parse("b: y\na: x\n", "q", null)));
        Assert.Contains("removed", QueueFile.CompareWithFrozen(v1, QueueFile.Parse("a: x\n", "q", null)));
    }

    [Fact]
    public void Split_balances_cost_and_gives_each_cell_one_owner()
    {
        var cells = QueueFile.Parse("big cost=8: a\nm1 cost=4: a\nm2 cost=4: a\ns1: a\ns2: a\ns3: a\ns4: a\n", "q", null);
        var split = QueueFile.Split(cells, 2);
        Assert.Equal(cells.Count, split.Sum(b => b.Count));
        Assert.Equal(cells.Select(c => c.Name).OrderBy(n => n), split.SelectMany(b => b).Select(c => c.Name).OrderBy(n => n));
        Assert.Equal(10, split[0].Sum(c => c.Cost));
        Assert.Equal(10, split[1].Sum(c => c.Cost));
        Assert.All(split, b => Assert.Equal(b.OrderBy(c => c.Index), b));
        Assert.Equal(split.Select(b => b.Select(c => c.Name)), QueueFile.Split(cells, 2).Select(b => b.Select(c => c.Name)));
        Assert.Single(QueueFile.Split(cells, 1));
    }

    [Theory]
    [InlineData("a: x\na: y\n", "line 2")]
    [InlineData("..: x\n", "not a usable cell name")]
    [InlineData("a:\n", "seed-form")]
    [InlineData("# only comments\n\n", "no cells")]
    public void Errors_name_file_and_line(string text, string expected)
    {
        var ex = Assert.Throws<RgtException>(() => QueueFile.Parse(text, "my-queue.txt", null));
        Assert.Equal("QueueFileInvalid", ex.ErrorId);
        Assert.Contains("my-queue.txt", ex.Message);
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void State_read_by_the_real_script_becomes_jobs_and_a_log_line_cannot_forge_records()
    {
        var root = Directory.CreateTempSubdirectory("rgt-qstate-").FullName;
        try
        {
            var q = Path.Combine(root, "data/.rgt/queues/q");
            Directory.CreateDirectory(Path.Combine(q, "cells/a"));
            Directory.CreateDirectory(Path.Combine(q, "cells/b"));
            File.WriteAllText(Path.Combine(q, "queue.txt"), "a cost=1: x\nb cost=1: y\nc cost=1: z\n");
            File.WriteAllText(Path.Combine(q, "assigned"), "a\nb\nc\n");
            File.WriteAllText(Path.Combine(q, "session"), "tmux:rgt-q");
            File.WriteAllText(Path.Combine(q, "cells/a/state"), "Succeeded\n");
            File.WriteAllText(Path.Combine(q, "cells/a/exit_code"), "0\n");
            File.WriteAllText(Path.Combine(q, "cells/a/started_at"), "2026-11-28T10:00:00Z\n");
            File.WriteAllText(Path.Combine(q, "cells/a/finished_at"), "2026-11-28T10:05:00Z\n");
            // A training log that prints what looks like the wire format: it must stay log text.
            File.WriteAllText(Path.Combine(q, "cells/a/log"), "Epoch 1/2 loss=1\n@@RGT queues rc=0\nend\ncell\tforged\nvalue\tstate\tFailed\nEpoch 2/2 loss=0.5\n=== rgt: cell a Succeeded\n");
            File.WriteAllText(Path.Combine(q, "cells/b/state"), "Running\n");
            File.WriteAllText(Path.Combine(q, "cells/b/log"), "Traceback (most recent call last):\n");
            var host = new Model.GpuHost { Name = "h", HostName = "h", DataDir = Path.Combine(root, "data"), DurableDir = "/f" };
            var output = RunBash(QueueScripts.State(host, null));

            var read = QueueStateParser.Read(Parsing.ProbeSections.Parse(output));
            Assert.True(read.Complete);
            var state = Assert.Single(read.Queues);
            Assert.Equal(new[] { "a", "b" }, state.CellMarkers.Keys.Order());
            Assert.Equal("Succeeded", state.CellMarkers["a"].Values["state"]);
            Assert.Contains("@@RGT queues rc=0", state.CellMarkers["a"].Tail);
            var jobs = QueueStateParser.Jobs(host, state, TimeSpan.FromMinutes(30)).ToList();
            Assert.Equal(new[] { "Succeeded", "Stale", "Pending" }, jobs.Select(j => j.State));
            Assert.Equal(2, jobs[0].Epoch);
            Assert.Equal(TimeSpan.FromMinutes(5), jobs[0].Duration);
            Assert.Equal("Epoch 2/2 loss=0.5", jobs[0].LastLine);
            Assert.StartsWith("Traceback", jobs[1].Crash);
            Assert.Equal(host.DataDir + "/checkpoints/q/a", jobs[0].CheckpointDir);
            Assert.Equal("/f/final_ckpts/a", jobs[0].DurableDir);
        }
        finally { Directory.Delete(root, true); }
    }

    [Fact]
    public void A_cut_off_state_listing_is_not_complete()
    {
        var cut = Parsing.ProbeSections.Parse("@@RGT queues\n|now\t1\n|queue\tq\n|frozen\ta: x\n");
        Assert.False(QueueStateParser.Read(cut).Complete);
        var failed = Parsing.ProbeSections.Parse("@@RGT queues\n|cannot read /d\n\n@@RGT queues rc=3\n");
        Assert.False(QueueStateParser.Read(failed).Complete);
    }

    [Theory]
    [InlineData("lr.1", "lr_1")]
    [InlineData("a_2e", "a.")]
    [InlineData("x-y", "x_y")]
    public void Session_names_never_collide(string a, string b)
    {
        Assert.NotEqual(QueueScripts.SessionName(a), QueueScripts.SessionName(b));
        Assert.Matches("^rgt-[A-Za-z0-9_-]+$", QueueScripts.SessionName(a));
    }

    internal static string RunBash(string command)
    {
        var psi = new System.Diagnostics.ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(command);
        using var p = System.Diagnostics.Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return output;
    }
}
