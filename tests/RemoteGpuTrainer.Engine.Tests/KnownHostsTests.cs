using RemoteGpuTrainer.Engine.Ssh;
using Xunit;

namespace RemoteGpuTrainer.Engine.Tests;

public class KnownHostsTests
{
    static (byte[] Blob, string Line) NewKey(string dir, string name)
    {
        var path = Path.Combine(dir, name);
        TestFiles.Run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", path);
        var parts = File.ReadAllText(path + ".pub").Trim().Split(' ');
        return (Convert.FromBase64String(parts[1]), parts[0] + " " + parts[1]);
    }

    [Fact]
    public void Plain_port_and_changed_entries()
    {
        var dir = TestFiles.TempDir();
        var a = NewKey(dir, "a");
        var b = NewKey(dir, "b");
        var file = Path.Combine(dir, "known_hosts");
        File.WriteAllText(file, $"# comment\nbox.example,10.0.0.1 {a.Line}\n[box.example]:2222 {b.Line}\n");
        var kh = new KnownHosts(new[] { file });
        Assert.Equal(HostKeyStatus.Known, kh.Check("box.example", 22, a.Blob).Status);
        Assert.Equal(HostKeyStatus.Known, kh.Check("10.0.0.1", 22, a.Blob).Status);
        Assert.Equal(HostKeyStatus.Known, kh.Check("box.example", 2222, b.Blob).Status);
        var changed = kh.Check("box.example", 2222, a.Blob);
        Assert.Equal(HostKeyStatus.Changed, changed.Status);
        Assert.Equal(KnownHosts.Fingerprint(b.Blob), changed.KnownFingerprint);
        Assert.Equal(3, changed.KnownLine);
        Assert.Equal(HostKeyStatus.Unknown, kh.Check("box.example", 2200, a.Blob).Status);
    }

    [Fact]
    public void A_key_of_another_type_than_the_one_on_file_is_changed_not_unknown()
    {
        var dir = TestFiles.TempDir();
        var ed = NewKey(dir, "ed");
        var ecdsa = Path.Combine(dir, "ec");
        TestFiles.Run("ssh-keygen", "-q", "-t", "ecdsa", "-N", "", "-f", ecdsa);
        var ecBlob = Convert.FromBase64String(File.ReadAllText(ecdsa + ".pub").Trim().Split(' ')[1]);
        var file = Path.Combine(dir, "known_hosts");
        File.WriteAllText(file, $"[box.example]:2222 {ed.Line}\n");
        var check = new KnownHosts(new[] { file }).Check("box.example", 2222, ecBlob);
        Assert.Equal(HostKeyStatus.Changed, check.Status);
        Assert.Equal(KnownHosts.Fingerprint(ed.Blob), check.KnownFingerprint);
        Assert.Equal(HostKeyStatus.Unknown, new KnownHosts(new[] { file }).Check("box.example", 2200, ecBlob).Status);
    }

    [Fact]
    public void Hashed_entries_made_by_ssh_keygen_match()
    {
        var dir = TestFiles.TempDir();
        var a = NewKey(dir, "a");
        var file = Path.Combine(dir, "known_hosts");
        File.WriteAllText(file, $"[gpu.example]:38211 {a.Line}\nother.example {a.Line}\n");
        TestFiles.Run("ssh-keygen", "-H", "-f", file);
        Assert.StartsWith("|1|", File.ReadAllText(file));
        var kh = new KnownHosts(new[] { file });
        Assert.Equal(HostKeyStatus.Known, kh.Check("gpu.example", 38211, a.Blob).Status);
        Assert.Equal(HostKeyStatus.Known, kh.Check("other.example", 22, a.Blob).Status);
        Assert.Equal(HostKeyStatus.Unknown, kh.Check("gpu.example", 22, a.Blob).Status);
    }

    [Fact]
    public void Fingerprint_matches_ssh_keygen()
    {
        var dir = TestFiles.TempDir();
        var a = NewKey(dir, "a");
        var expected = TestFiles.Run("ssh-keygen", "-l", "-E", "sha256", "-f", Path.Combine(dir, "a.pub")).Split(' ')[1];
        Assert.Equal(expected, KnownHosts.Fingerprint(a.Blob));
        Assert.Equal("ssh-ed25519", KnownHosts.KeyTypeOf(a.Blob));
    }

    [Fact]
    public void Revoked_and_wildcard_entries()
    {
        var dir = TestFiles.TempDir();
        var a = NewKey(dir, "a");
        var b = NewKey(dir, "b");
        var file = Path.Combine(dir, "known_hosts");
        File.WriteAllText(file, $"@revoked * {b.Line}\n*.gpu.example,!bad.gpu.example {a.Line}\n");
        var kh = new KnownHosts(new[] { file });
        Assert.Equal(HostKeyStatus.Known, kh.Check("n1.gpu.example", 22, a.Blob).Status);
        Assert.Equal(HostKeyStatus.Unknown, kh.Check("bad.gpu.example", 22, a.Blob).Status);
        Assert.Equal(HostKeyStatus.Revoked, kh.Check("n1.gpu.example", 22, b.Blob).Status);
    }

    [Fact]
    public void Added_entries_are_read_back_by_ssh_keygen()
    {
        var dir = TestFiles.TempDir();
        var a = NewKey(dir, "a");
        var file = Path.Combine(dir, "sub", "known_hosts");
        var kh = new KnownHosts(new[] { file });
        kh.Add("127.0.0.1", 40022, a.Blob);
        Assert.Equal(HostKeyStatus.Known, kh.Check("127.0.0.1", 40022, a.Blob).Status);
        var found = TestFiles.Run("ssh-keygen", "-F", "[127.0.0.1]:40022", "-f", file);
        Assert.Contains(a.Line.Split(' ')[1], found);
    }
}
