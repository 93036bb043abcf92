using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Ssh;
using Xunit;

namespace RemoteGpuTrainer.Engine.Tests;

public class SshConfigTests
{
    [Fact]
    public void Alias_resolves_like_ssh_with_first_value_winning()
    {
        var dir = TestFiles.TempDir();
        File.WriteAllText(Path.Combine(dir, "extra.conf"), "Host autodl-*\n  User root\n  ServerAliveInterval 10\n");
        var cfg = Path.Combine(dir, "config");
        File.WriteAllText(cfg, $"""
            # test config
            Include {dir}/extra.conf
            Host autodl-proj-1
              HostName connect.westb.seetacloud.com
              Port 38211
              IdentityFile {dir}/id_a
            Host autodl-* !autodl-skip
              Port 1
              User nobody
              ConnectTimeout=7
              ServerAliveCountMax 3
            Host *
              IdentityFile {dir}/id_b
            """);
        var e = SshConfigFile.Resolve("autodl-proj-1", cfg);
        Assert.Equal("connect.westb.seetacloud.com", e.HostName);
        Assert.Equal(38211, e.Port);
        Assert.Equal("root", e.User);
        Assert.Equal(7, e.ConnectTimeout);
        Assert.Equal(10, e.ServerAliveInterval);
        Assert.Equal(3, e.ServerAliveCountMax);
        Assert.Equal(new[] { $"{dir}/id_a", $"{dir}/id_b" }, e.IdentityFiles);
        // Enter-GpuHost's ssh keeps the same keepalive: its interval and how many missed answers drop the link.
        var args = SshCommandLine.Arguments(SshTarget.Resolve(new GpuHost { Name = "a", HostName = "autodl-proj-1" }, null, cfg));
        Assert.Contains("ServerAliveInterval=10", args);
        Assert.Contains("ServerAliveCountMax=3", args);

        var skip = SshConfigFile.Resolve("autodl-skip", cfg);
        Assert.Null(skip.Port);
        Assert.Equal("root", skip.User);

        var target = SshTarget.Resolve(new GpuHost { Name = "a", HostName = "autodl-proj-1" }, null, cfg);
        Assert.Equal("connect.westb.seetacloud.com", target.HostName);
        Assert.Equal(38211, target.Port);
        Assert.Equal(TimeSpan.FromSeconds(7), target.ConnectTimeout);
        Assert.Equal(TimeSpan.FromSeconds(10), target.KeepAliveInterval);

        var explicitPort = SshTarget.Resolve(new GpuHost { Name = "a", HostName = "autodl-proj-1", Port = 2022, User = "me" }, null, cfg);
        Assert.Equal(2022, explicitPort.Port);
        Assert.Equal("me", explicitPort.User);
    }

    [Fact]
    public void ProxyJump_hops_are_each_resolved_through_the_config_and_none_means_none()
    {
        var dir = TestFiles.TempDir();
        var cfg = Path.Combine(dir, "config");
        File.WriteAllText(cfg, "Host bastion\n  HostName 203.0.113.9\n  Port 2222\n  User jump\n  IdentityFile ~/.ssh/jump_key\n" +
            "Host inner\n  HostName 10.0.0.5\n  User root\n  ProxyJump bastion,ops@second:2200\n" +
            "Host direct\n  HostName 10.0.0.6\n  ProxyJump none\n" +
            "Host legacy\n  ProxyCommand ssh -q -p 2222 -W %h:%p jump@203.0.113.9\n" +
            "Host tunnel\n  ProxyCommand cloudflared access ssh --hostname %h\n");
        var t = SshTarget.Resolve(new GpuHost { Name = "a", HostName = "inner" }, null, cfg);
        Assert.Equal(("10.0.0.5", 22, "root"), (t.HostName, t.Port, t.User));
        Assert.Equal(2, t.Jumps.Count);
        Assert.Equal(("203.0.113.9", 2222, "jump"), (t.Jumps[0].HostName, t.Jumps[0].Port, t.Jumps[0].User));
        Assert.EndsWith("jump_key", t.Jumps[0].IdentityFiles[0]);
        Assert.Equal("jump host bastion (for a)", t.Jumps[0].Name);
        Assert.Equal(("second", 2200, "ops"), (t.Jumps[1].HostName, t.Jumps[1].Port, t.Jumps[1].User));
        Assert.Contains("-J", SshCommandLine.Arguments(t));
        Assert.Contains("jump@203.0.113.9:2222,ops@second:2200", SshCommandLine.Arguments(t));
        Assert.Empty(SshTarget.Resolve(new GpuHost { Name = "d", HostName = "direct" }, null, cfg).Jumps);
        // The inventory's -J (from the connection string) wins over the config.
        Assert.Equal("gw", SshTarget.Resolve(new GpuHost { Name = "g", HostName = "inner", ProxyJump = "gw" }, null, cfg).Jumps.Single().HostName);
        var legacy = SshTarget.Resolve(new GpuHost { Name = "l", HostName = "legacy" }, null, cfg).Jumps.Single();
        Assert.Equal(("203.0.113.9", 2222, "jump"), (legacy.HostName, legacy.Port, legacy.User));
        var ex = Assert.Throws<RgtException>(() => SshTarget.Resolve(new GpuHost { Name = "t", HostName = "tunnel" }, null, cfg));
        Assert.Equal("ProxyCommandUnsupported", ex.ErrorId);
        Assert.Contains("cloudflared access ssh", ex.Message);
        Assert.Contains("ProxyJump", ex.Message);
    }

    [Fact]
    public void Bad_number_names_file_and_line()
    {
        var dir = TestFiles.TempDir();
        var cfg = Path.Combine(dir, "config");
        File.WriteAllText(cfg, "Host x\n  Port twenty\n");
        var ex = Assert.Throws<RgtException>(() => SshConfigFile.Resolve("x", cfg));
        Assert.Contains("line 2", ex.Message);
    }
}
