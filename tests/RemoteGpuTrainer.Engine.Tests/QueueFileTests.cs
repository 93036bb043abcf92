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
    public void State_output_becomes_jobs_with_epochs_crash_and_stale()
    {
        var host = new Model.GpuHost { Name = "h", HostName = "h", DataDir = "/d", DurableDir = "/f" };
        var output = "@@RGTQ now 100\n@@RGTQ queue q\n@@RGTQ frozen\na cost=1: x\nb cost=1: y\nc cost=1: z\n@@RGTQ assigned\na\nb\nc\n@@RGTQ meta\nsession=tmux:rgt-q\nalive=0\n" +
            "@@RGTQ cell a\nstate=Succeeded\nexit_code=0\nstarted_at=2026-11-28T10:00:00Z\nfinished_at=2026-11-28T10:05:00Z\npid_alive=0\nlog_age=5\n@@RGTQ tail\nEpoch 1/2 loss=1\nEpoch 2/2 loss=0.5\n=== rgt: cell a Succeeded\n@@RGTQ crash\n" +
            "@@RGTQ cell b\nstate=Running\npid_alive=0\nlog_age=3\n@@RGTQ tail\nTraceback (most recent call last):\n@@RGTQ crash\nTraceback (most recent call last):\n@@RGTQ end\n";
        var q = Assert.Single(QueueStateParser.Parse(output));
        var jobs = QueueStateParser.Jobs(host, q, TimeSpan.FromMinutes(30)).ToList();
        Assert.Equal(new[] { "Succeeded", "Stale", "Pending" }, jobs.Select(j => j.State));
        Assert.Equal(2, jobs[0].Epoch);
        Assert.Equal(TimeSpan.FromMinutes(5), jobs[0].Duration);
        Assert.Equal("Epoch 2/2 loss=0.5", jobs[0].LastLine);
        Assert.StartsWith("Traceback", jobs[1].Crash);
        Assert.Equal("/d/checkpoints/q/a", jobs[0].CheckpointDir);
        Assert.Equal("/f/final_ckpts/a", jobs[0].DurableDir);
    }
}
