using RemoteGpuTrainer.Engine.Hosts;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Platforms;
using Xunit;

namespace RemoteGpuTrainer.Engine.Tests;

public class InventoryTests
{
    [Fact]
    public void Malformed_file_is_reported_with_line_and_column_and_never_overwritten()
    {
        var dir = TestFiles.TempDir();
        var file = Path.Combine(dir, "hosts.yml");
        const string broken = "hosts:\n- name: a\n  hostName: [unclosed\n";
        File.WriteAllText(file, broken);
        var inv = new HostInventory(file);
        var ex = Assert.Throws<RgtException>(() => inv.Load());
        Assert.Equal("InventoryMalformed", ex.ErrorId);
        Assert.Matches(@"line \d+, column \d+", ex.Message);
        Assert.Throws<RgtException>(() => inv.Update(h => { h.Add(new GpuHost { Name = "b", HostName = "b" }); return h; }));
        Assert.Equal(broken, File.ReadAllText(file));
    }

    [Fact]
    public void Concurrent_writers_lose_nothing()
    {
        var dir = TestFiles.TempDir();
        var file = Path.Combine(dir, "hosts.yml");
        Parallel.For(0, 24, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
            new HostInventory(file).Update(h => { h.Add(new GpuHost { Name = $"h{i}", HostName = $"10.0.0.{i}", Port = 22 }); return h; }));
        var names = new HostInventory(file).Load().Select(h => h.Name).OrderBy(n => n).ToList();
        Assert.Equal(Enumerable.Range(0, 24).Select(i => $"h{i}").OrderBy(n => n), names);
        Assert.Empty(Directory.GetFiles(dir, "*.tmp"));
    }

    [Fact]
    public void Round_trip_keeps_every_field()
    {
        var file = Path.Combine(TestFiles.TempDir(), "hosts.yml");
        var h = new GpuHost
        {
            Name = "autodl-1", HostName = "connect.westb.seetacloud.com", Port = 38211, User = "root", IdentityFile = "/k/id",
            Platform = "autodl", Region = "westb", Tags = new[] { "sweep", "训练" }, DataDir = "/root/autodl-tmp", DurableDir = "/root/autodl-fs",
            ProxyHook = "source /etc/network_turbo", CredFile = "/root/.wandb_key", Python = "/root/miniconda3/bin/python",
            HourlyPrice = 1.98m, Currency = "CNY", GpuDevicePath = new[] { "/dev/nvidia0" }, CreatedAt = DateTimeOffset.Parse("2026-11-28T10:00:00+08:00"), Notes = "it's \"quoted\"",
        };
        new HostInventory(file).Update(l => { l.Add(h); return l; });
        var back = new HostInventory(file).Load().Single();
        Assert.Equal(h with { Tags = back.Tags, GpuDevicePath = back.GpuDevicePath }, back);
        Assert.Equal(h.Tags, back.Tags);
        Assert.Equal(h.GpuDevicePath, back.GpuDevicePath);
    }

    [Fact]
    public void Registering_the_same_endpoint_twice_updates_it()
    {
        var file = Path.Combine(TestFiles.TempDir(), "hosts.yml");
        var inv = new HostInventory(file);
        var catalog = PlatformCatalog.Load(TestFiles.PlatformsDir);
        var first = HostRegistration.Register(new RentalRequest("ssh -p 38211 root@connect.westb.seetacloud.com"), inv, catalog, DateTimeOffset.Now);
        Assert.True(first.Created);
        Assert.Equal("autodl", first.Host.Platform);
        Assert.Equal("/root/autodl-tmp", first.Host.DataDir);
        Assert.Contains(first.Warnings, w => w.Contains("15 days"));
        var second = HostRegistration.Register(new RentalRequest("ssh -p 38211 root@connect.westb.seetacloud.com", Tags: new[] { "sweep" }), inv, catalog, DateTimeOffset.Now);
        Assert.False(second.Created);
        Assert.Empty(second.Warnings);
        var all = inv.Load();
        Assert.Single(all);
        Assert.Equal(new[] { "sweep" }, all[0].Tags);
        // the instance was re-created on a new port: same name, new endpoint
        HostRegistration.Register(new RentalRequest("ssh -p 40001 root@connect.westb.seetacloud.com", Name: first.Host.Name), inv, catalog, DateTimeOffset.Now);
        Assert.Equal(40001, inv.Load().Single().Port);
    }
}
