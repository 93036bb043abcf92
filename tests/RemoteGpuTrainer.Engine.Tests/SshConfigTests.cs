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
    public void ProxyJump_is_refused_clearly()
    {
        var dir = TestFiles.TempDir();
        var cfg = Path.Combine(dir, "config");
        File.WriteAllText(cfg, "Host hop\n  ProxyJump bastion\n");
        var ex = Assert.Throws<RgtException>(() => SshTarget.Resolve(new GpuHost { Name = "a", HostName = "hop" }, null, cfg));
        Assert.Equal("ProxyJumpUnsupported", ex.ErrorId);
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
