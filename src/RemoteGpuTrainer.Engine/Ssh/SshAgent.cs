using System.Buffers.Binary;
using System.IO.Pipes;
using System.Net.Sockets;
using System.Text;

namespace RemoteGpuTrainer.Engine.Ssh;

/// <summary>A key the agent holds: its public key blob (as in authorized_keys, decoded), type and comment.</summary>
public sealed record AgentIdentity(byte[] Blob, string KeyType, string Comment)
{
    /// <summary>The blob as the base64 of an authorized_keys / .pub line, to compare with a key file's public half.</summary>
    public string Base64 => Convert.ToBase64String(Blob);
}

/// <summary>
/// A client of the ssh-agent protocol (draft-miller-ssh-agent): lists the agent's keys and has it
/// sign. It talks to the Unix socket of SSH_AUTH_SOCK (or IdentityAgent), or on Windows to the
/// OpenSSH agent's named pipe. The private keys never leave the agent; each request opens its own
/// short connection, so the agent may be used from any thread.
/// </summary>
public sealed class SshAgent
{
    const byte RequestIdentities = 11, IdentitiesAnswer = 12, SignRequest = 13, SignResponse = 14, Failure = 5;
    public const uint RsaSha256 = 2, RsaSha512 = 4;
    public const string WindowsPipe = @"\\.\pipe\openssh-ssh-agent";

    public SshAgent(string address) => Address = address;

    /// <summary>The socket path (or, on Windows, the pipe) the agent listens on.</summary>
    public string Address { get; }

    /// <summary>
    /// The agent to use: ssh_config's IdentityAgent when set ("none": no agent; "SSH_AUTH_SOCK" or
    /// "$SSH_AUTH_SOCK": the variable), else SSH_AUTH_SOCK, else on Windows the OpenSSH agent's pipe
    /// when it exists. Null when there is none.
    /// </summary>
    public static SshAgent? Find(string? identityAgent, Func<string, string?> environment, bool windows)
    {
        var value = identityAgent?.Trim();
        if (value is not null && value.Equals("none", StringComparison.OrdinalIgnoreCase)) return null;
        if (value is null || value is "SSH_AUTH_SOCK" or "$SSH_AUTH_SOCK") value = environment("SSH_AUTH_SOCK");
        else if (value.StartsWith('$')) value = environment(value[1..]);
        else value = ConfigPaths.ExpandHome(value);
        if (!string.IsNullOrEmpty(value)) return new SshAgent(value);
        return windows && File.Exists(WindowsPipe) ? new SshAgent(WindowsPipe) : null;
    }

    public IReadOnlyList<AgentIdentity> List()
    {
        var answer = Ask(new[] { RequestIdentities });
        if (answer.Length == 0 || answer[0] != IdentitiesAnswer) throw Refused("list its keys", answer);
        try
        {
            var r = new Reader(answer, 1);
            var count = r.UInt();
            var keys = new List<AgentIdentity>();
            for (uint i = 0; i < count; i++)
            {
                var blob = r.Bytes();
                var comment = Encoding.UTF8.GetString(r.Bytes());
                keys.Add(new AgentIdentity(blob, Encoding.ASCII.GetString(new Reader(blob, 0).Bytes()), comment));
            }
            return keys;
        }
        catch (InvalidDataException) { throw Refused("list its keys", answer); }
    }

    /// <summary>The agent's signature of <paramref name="data"/> with the key of <paramref name="blob"/>, as the SSH signature blob (string format, string signature).</summary>
    public byte[] Sign(byte[] blob, byte[] data, uint flags)
    {
        var request = new MemoryStream();
        request.WriteByte(SignRequest);
        WriteBytes(request, blob);
        WriteBytes(request, data);
        WriteUInt(request, flags);
        var answer = Ask(request.ToArray());
        if (answer.Length == 0 || answer[0] != SignResponse) throw Refused("sign with the key", answer);
        try { return new Reader(answer, 1).Bytes(); }
        catch (InvalidDataException) { throw Refused("sign with the key", answer); }
    }

    RgtException Refused(string what, byte[] answer) =>
        new("AgentRefused", FailureKind.AuthenticationError,
            $"The ssh-agent at {Address} would not {what} ({(answer.Length > 0 && answer[0] == Failure ? "it answered SSH_AGENT_FAILURE: a locked agent, or a key that asks for confirmation" : "an answer that is not the protocol's")}).");

    byte[] Ask(byte[] message)
    {
        try
        {
            using var stream = Open();
            var frame = new byte[4 + message.Length];
            BinaryPrimitives.WriteUInt32BigEndian(frame, (uint)message.Length);
            message.CopyTo(frame, 4);
            stream.Write(frame);
            stream.Flush();
            var head = ReadExactly(stream, 4);
            var length = BinaryPrimitives.ReadUInt32BigEndian(head);
            if (length > 256 * 1024) throw new InvalidDataException($"a message of {length} bytes");
            return ReadExactly(stream, (int)length);
        }
        catch (Exception ex) when (ex is SocketException or IOException or InvalidDataException or TimeoutException or UnauthorizedAccessException or EndOfStreamException)
        {
            throw new RgtException("AgentUnavailable", FailureKind.AuthenticationError,
                $"The ssh-agent at {Address} (SSH_AUTH_SOCK or IdentityAgent) does not answer ({ex.Message}): start it (eval $(ssh-agent); ssh-add), point SSH_AUTH_SOCK at it, or set IdentityAgent none to use key files only.", ex);
        }
    }

    Stream Open()
    {
        if (Address.StartsWith(@"\\.\pipe\", StringComparison.Ordinal))
        {
            var pipe = new NamedPipeClientStream(".", Address[@"\\.\pipe\".Length..], PipeDirection.InOut);
            pipe.Connect(5000);
            return pipe;
        }
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { ReceiveTimeout = 30000, SendTimeout = 5000 };
        try { socket.Connect(new UnixDomainSocketEndPoint(Address)); }
        catch { socket.Dispose(); throw; }
        return new NetworkStream(socket, ownsSocket: true);
    }

    static byte[] ReadExactly(Stream s, int n)
    {
        var buffer = new byte[n];
        s.ReadExactly(buffer);
        return buffer;
    }

    static void WriteUInt(Stream s, uint v)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, v);
        s.Write(b);
    }

    static void WriteBytes(Stream s, byte[] v)
    {
        WriteUInt(s, (uint)v.Length);
        s.Write(v);
    }

    /// <summary>Reads the protocol's uint32 and length-prefixed strings; a short or oversized field is InvalidDataException.</summary>
    sealed class Reader
    {
        readonly byte[] _data;
        int _at;

        public Reader(byte[] data, int at) { _data = data; _at = at; }

        public uint UInt()
        {
            if (_at + 4 > _data.Length) throw new InvalidDataException("a field runs past the message");
            var v = BinaryPrimitives.ReadUInt32BigEndian(_data.AsSpan(_at));
            _at += 4;
            return v;
        }

        public byte[] Bytes()
        {
            var n = UInt();
            if (n > _data.Length - _at) throw new InvalidDataException("a field runs past the message");
            var v = _data.AsSpan(_at, (int)n).ToArray();
            _at += (int)n;
            return v;
        }
    }
}
