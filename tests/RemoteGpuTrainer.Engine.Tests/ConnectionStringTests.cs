using RemoteGpuTrainer.Engine.Hosts;
using Xunit;

namespace RemoteGpuTrainer.Engine.Tests;

public class ConnectionStringTests
{
    [Theory]
    [InlineData("ssh -p 38211 root@connect.westb.seetacloud.com", "connect.westb.seetacloud.com", 38211, "root", null)]
    [InlineData("ssh root@1.2.3.4 -p 22022 -i ~/.ssh/id_ed25519", "1.2.3.4", 22022, "root", "~/.ssh/id_ed25519")]
    [InlineData("user@host.example:2222", "host.example", 2222, "user", null)]
    [InlineData("ssh://ubuntu@10.0.0.5:22", "10.0.0.5", 22, "ubuntu", null)]
    [InlineData("gpu-box", "gpu-box", null, null, null)]
    [InlineData("ssh -p2222 -l paperspace 1.2.3.4", "1.2.3.4", 2222, "paperspace", null)]
    [InlineData("ssh -o Port=2200 -o User=root box.example", "box.example", 2200, "root", null)]
    [InlineData("[2001:db8::1]:2222", "2001:db8::1", 2222, null, null)]
    [InlineData("ssh user@ssh.cn1.lanrui-ai.com -p 30022 -i ~/.ssh/id_rsa", "ssh.cn1.lanrui-ai.com", 30022, "user", "~/.ssh/id_rsa")]
    [InlineData("ssh -i '/keys/my key' root@h.example", "h.example", null, "root", "/keys/my key")]
    public void Parses_platform_shapes(string text, string host, int? port, string? user, string? identity)
    {
        var cs = ConnectionString.Parse(text);
        Assert.Equal(host, cs.HostName);
        Assert.Equal(port, cs.Port);
        Assert.Equal(user, cs.User);
        Assert.Equal(identity, cs.IdentityFile);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("ssh -p 70000 root@h", "port number")]
    [InlineData("ssh -p abc root@h", "port number")]
    [InlineData("root@h; rm -rf /", "after the host")]
    [InlineData("root@h;id", "not a valid host name")]
    [InlineData("root@h rm -rf /", "after the host")]
    [InlineData("ssh root@$(touch_x)", "not a valid host name")]
    [InlineData("ro'ot@h", "quote is not closed")]
    [InlineData("r$(id)@h", "not a valid user name")]
    [InlineData("root@h\nx", "line break")]
    [InlineData("ssh -J 'jump;id' root@h", "is not a jump host")]
    [InlineData("ssh -J a@b:99999 root@h", "is not a jump host")]
    [InlineData("2001:db8::1", "brackets")]
    [InlineData("ssh -Z root@h", "unknown")]
    [InlineData("ssh -p", "needs a value")]
    [InlineData("训练机", "not a valid host name")]
    public void Refuses_bad_strings_with_a_reason(string text, string reason)
    {
        var ex = Assert.Throws<RgtException>(() => ConnectionString.Parse(text));
        Assert.Equal("ConnectionStringInvalid", ex.ErrorId);
        Assert.Contains(reason, ex.Message);
    }

    [Theory]
    [InlineData("ssh -J me@bastion.uni.edu:2222 root@10.0.0.5", "me@bastion.uni.edu:2222")]
    [InlineData("ssh -o ProxyJump=b1,me@b2 -p 2201 root@gpu7", "b1,me@b2")]
    [InlineData("ssh -Jbastion root@gpu7", "bastion")]
    [InlineData("ssh -J none root@gpu7", null)]
    public void Keeps_the_jump_hosts_of_ssh_J(string text, string? jump)
    {
        var cs = ConnectionString.Parse(text);
        Assert.Equal(jump, cs.ProxyJump);
    }
}
