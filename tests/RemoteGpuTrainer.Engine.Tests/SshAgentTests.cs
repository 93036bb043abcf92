using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using RemoteGpuTrainer.Engine.Ssh;
using Xunit;

namespace RemoteGpuTrainer.Engine.Tests;

/// <summary>The agent client against a real OpenSSH ssh-agent, and against a socket that answers nonsense.</summary>
public class SshAgentTests
{
    [Fact]
    public void A_real_agent_lists_its_keys_and_signs_with_them()
    {
        var dir = TestFiles.TempDir();
        var sock = Path.Combine(dir, "agent.sock");
        TestFiles.Run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "agent-ed", "-f", Path.Combine(dir, "ed"));
        TestFiles.Run("ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-C", "agent-rsa", "-f", Path.Combine(dir, "rsa"));
        var started = TestFiles.Run("ssh-agent", "-s", "-a", sock);
        var pid = int.Parse(System.Text.RegularExpressions.Regex.Match(started, @"SSH_AGENT_PID=(\d+)").Groups[1].Value);
        try
        {
            TestFiles.Run("env", $"SSH_AUTH_SOCK={sock}", "ssh-add", "-q", Path.Combine(dir, "ed"), Path.Combine(dir, "rsa"));
            var agent = SshAgent.Find(null, v => v == "SSH_AUTH_SOCK" ? sock : null, windows: false)!;
            var keys = agent.List();
            Assert.Equal(new[] { "ssh-ed25519", "ssh-rsa" }, keys.Select(k => k.KeyType).Order());
            var ed = keys.Single(k => k.KeyType == "ssh-ed25519");
            Assert.Equal("agent-ed", ed.Comment);
            Assert.Equal(File.ReadAllText(Path.Combine(dir, "ed.pub")).Split(' ')[1], ed.Base64);
            Assert.StartsWith("ssh-ed25519", Name(agent.Sign(ed.Blob, Encoding.ASCII.GetBytes("session"), 0)));
            var rsa = keys.Single(k => k.KeyType == "ssh-rsa");
            Assert.Equal("rsa-sha2-512", Name(agent.Sign(rsa.Blob, Encoding.ASCII.GetBytes("session"), SshAgent.RsaSha512)));
            Assert.Equal("rsa-sha2-256", Name(agent.Sign(rsa.Blob, Encoding.ASCII.GetBytes("session"), SshAgent.RsaSha256)));
            // A key the agent does not hold: its refusal, said as such.
            TestFiles.Run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", Path.Combine(dir, "other"));
            var other = Convert.FromBase64String(File.ReadAllText(Path.Combine(dir, "other.pub")).Split(' ')[1]);
            Assert.Equal("AgentRefused", Assert.Throws<RgtException>(() => agent.Sign(other, new byte[] { 1 }, 0)).ErrorId);
        }
        finally { System.Diagnostics.Process.GetProcessById(pid).Kill(); }
    }

    [Theory]
    [InlineData("none", null)]
    [InlineData("SSH_AUTH_SOCK", "/run/from-env")]
    [InlineData("$OTHER_SOCK", "/run/other")]
    [InlineData("/tmp/given.sock", "/tmp/given.sock")]
    public void Which_agent_ssh_config_and_the_environment_name(string? identityAgent, string? expected)
    {
        string? Env(string v) => v switch { "SSH_AUTH_SOCK" => "/run/from-env", "OTHER_SOCK" => "/run/other", _ => null };
        Assert.Equal(expected, SshAgent.Find(identityAgent, Env, windows: false)?.Address);
        Assert.Equal("/run/from-env", SshAgent.Find(null, Env, windows: false)?.Address);
        Assert.Null(SshAgent.Find(null, _ => null, windows: false));
    }

    [Theory]
    [InlineData(new byte[] { 0, 0, 0, 1, 5 }, "AgentRefused")]                  // SSH_AGENT_FAILURE
    [InlineData(new byte[] { 0, 0, 0, 5, 12, 0, 0, 0, 9 }, "AgentRefused")]      // 9 keys announced, none there
    [InlineData(new byte[] { 0xff, 0, 0, 1, 12 }, "AgentUnavailable")]          // a length past reason
    [InlineData(new byte[] { 0, 0, 0, 9, 12 }, "AgentUnavailable")]             // the connection ends mid-message
    public async Task An_agent_answering_nonsense_is_an_error_that_names_it_never_a_crash_or_a_hang(byte[] answer, string errorId)
    {
        var sock = Path.Combine(TestFiles.TempDir(), "bad.sock");
        using var server = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        server.Bind(new UnixDomainSocketEndPoint(sock));
        server.Listen(1);
        var serving = Task.Run(() =>
        {
            using var peer = server.Accept();
            var head = new byte[4];
            peer.Receive(head);
            var body = new byte[BinaryPrimitives.ReadUInt32BigEndian(head)];
            peer.Receive(body);
            peer.Send(answer);
        });
        var ex = Assert.Throws<RgtException>(() => new SshAgent(sock).List());
        Assert.Equal(errorId, ex.ErrorId);
        Assert.Contains(sock, ex.Message);
        await serving.WaitAsync(TimeSpan.FromSeconds(5));
    }

    static string Name(byte[] signatureBlob) => Encoding.ASCII.GetString(signatureBlob, 4, (int)BinaryPrimitives.ReadUInt32BigEndian(signatureBlob));
}
