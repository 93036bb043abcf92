using System.Diagnostics;
using System.Net.Sockets;
using Renci.SshNet;
using Renci.SshNet.Common;
using Renci.SshNet.Security;

namespace RemoteGpuTrainer.Engine.Ssh;

/// <summary>
/// One authenticated SSH connection with verified host key. SSH.NET types never leave this class.
/// </summary>
public sealed class SshConnection : IHostShell
{
    readonly SshClient _client;
    readonly IDisposable? _hops;

    SshConnection(SshClient client, SshTarget target, string fingerprint, TimeSpan latency, IDisposable? hops)
    {
        _client = client;
        _hops = hops;
        Target = target;
        HostKeyFingerprint = fingerprint;
        ConnectLatency = latency;
    }

    public SshTarget Target { get; }
    public string HostKeyFingerprint { get; }
    /// <summary>Time from TCP connect to an authenticated session.</summary>
    public TimeSpan ConnectLatency { get; }

    public static async Task<SshConnection> ConnectAsync(SshTarget target, bool trustOnFirstUse, CancellationToken cancellationToken, IReadOnlyList<byte[]>? pinned = null)
    {
        var sw = Stopwatch.StartNew();
        var (client, fingerprint, hops) = await OpenAsync(target, trustOnFirstUse, info => new SshClient(info), cancellationToken, pinned).ConfigureAwait(false);
        return new SshConnection(client, target, fingerprint, sw.Elapsed, hops);
    }

    /// <summary>
    /// Opens any SSH.NET client (shell or SFTP) with the same key loading, known_hosts check and
    /// timeouts; returns it connected with the verified host key fingerprint, and the jump hosts it
    /// goes through (to be disposed after the client; null for a direct connection). Through jump
    /// hosts, each hop is an SSH connection of its own, checked against known_hosts by its own name;
    /// the next one is reached over a direct-tcpip channel of the previous one (a loopback port
    /// forwarded by it), and the target's key is checked by the target's name, never the loopback's.
    /// </summary>
    internal static async Task<(T Client, string Fingerprint, IDisposable? Hops)> OpenAsync<T>(SshTarget target, bool trustOnFirstUse, Func<ConnectionInfo, T> create,
        CancellationToken cancellationToken, IReadOnlyList<byte[]>? pinned = null)
        where T : BaseClient
    {
        if (target.Jumps.Count == 0) return await ConnectDirectAsync(target, target.HostName, target.Port, trustOnFirstUse, create, cancellationToken, pinned, null).ConfigureAwait(false);
        // The last hop, reached through the ones before it.
        var last = target.Jumps[^1] with { Jumps = target.Jumps.Take(target.Jumps.Count - 1).ToList() };
        var (jump, _, before) = await OpenAsync(last, trustOnFirstUse, info => new SshClient(info), cancellationToken).ConfigureAwait(false);
        var chain = new Chain(before, jump);
        try
        {
            var forward = new ForwardedPortLocal("127.0.0.1", 0, target.HostName, (uint)target.Port);
            jump.AddForwardedPort(forward);
            forward.Start();
            chain.Add(forward);
            return await ConnectDirectAsync(target, "127.0.0.1", (int)forward.BoundPort, trustOnFirstUse, create, cancellationToken, pinned, chain).ConfigureAwait(false);
        }
        catch
        {
            chain.Dispose();
            throw;
        }
    }

    static async Task<(T Client, string Fingerprint, IDisposable? Hops)> ConnectDirectAsync<T>(SshTarget target, string host, int port, bool trustOnFirstUse, Func<ConnectionInfo, T> create,
        CancellationToken cancellationToken, IReadOnlyList<byte[]>? pinned, IDisposable? hops)
        where T : BaseClient
    {
        var keys = LoadKeys(target);
        var info = new ConnectionInfo(host, port, target.User, new PrivateKeyAuthenticationMethod(target.User, keys.Sources))
        {
            Timeout = target.ConnectTimeout,
            RetryAttempts = 1,
        };
        var known = new KnownHosts(target.KnownHostsFiles);
        SteerHostKeyAlgorithms(info, known.KnownKeyTypes(target.HostName, target.Port));
        PreferAesGcm(info);
        var client = create(info);
        client.KeepAliveInterval = target.KeepAliveInterval;
        HostKeyCheck? check = null;
        byte[]? presented = null;
        client.HostKeyReceived += (_, e) =>
        {
            presented = e.HostKey;
            check = pinned is null ? known.Check(target.HostName, target.Port, e.HostKey) : KnownHosts.CheckPinned(pinned, e.HostKey);
            e.CanTrust = check.Status == HostKeyStatus.Known || (check.Status == HostKeyStatus.Unknown && trustOnFirstUse && pinned is null);
        };
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(target.ConnectTimeout);
        try
        {
            await client.ConnectAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            client.Dispose();
            hops?.Dispose();
            throw MapConnectFailure(ex, target, check, cancellationToken, keys.Skipped);
        }
        if (check is null || presented is null)
        {
            client.Dispose();
            hops?.Dispose();
            throw new RgtException("HostKeyUnverified", FailureKind.SecurityError, $"{target.Name}: the server's host key could not be checked; refusing to continue.");
        }
        if (check.Status == HostKeyStatus.Unknown && trustOnFirstUse) known.Add(target.HostName, target.Port, presented);
        return (client, check.Fingerprint, hops);
    }

    /// <summary>The jump connections and forwarded ports under one connection, closed last-made first.</summary>
    sealed class Chain : IDisposable
    {
        readonly List<IDisposable> _parts = new();

        public Chain(IDisposable? before, IDisposable jump)
        {
            if (before is not null) _parts.Add(before);
            _parts.Add(jump);
        }

        public void Add(IDisposable part) => _parts.Add(part);

        public void Dispose()
        {
            for (int i = _parts.Count - 1; i >= 0; i--)
            {
                try { if (_parts[i] is ForwardedPort f && f.IsStarted) f.Stop(); _parts[i].Dispose(); }
                catch (Exception) { }
            }
            _parts.Clear();
        }
    }

    /// <summary>
    /// AES-GCM first: the fastest cipher for SFTP reads here, by half again (bench/MEASUREMENTS.md, "Cipher order").
    /// </summary>
    static void PreferAesGcm(ConnectionInfo info)
    {
        var all = info.Encryptions.ToList();
        info.Encryptions.Clear();
        foreach (var kv in all.OrderBy(kv => kv.Key.Contains("gcm", StringComparison.Ordinal) ? 0 : 1)) info.Encryptions.Add(kv.Key, kv.Value);
    }

    /// <summary>The keys offered, and the identity files left out with why (an encrypted one nobody could unlock).</summary>
    sealed record Keys(IPrivateKeySource[] Sources, IReadOnlyList<string> Skipped);

    /// <summary>
    /// As OpenSSH offers them: the agent's keys first (with IdentitiesOnly, only those of the identity
    /// files), then each identity file the agent does not hold. An encrypted file is unlocked with the
    /// passphrase the session gives (asked once per file, kept only in memory) or, with no one to ask
    /// (an unattended run), left out at once; with nothing left to offer, the error says what to do.
    /// </summary>
    static Keys LoadKeys(SshTarget target)
    {
        var skipped = new List<string>();
        IReadOnlyList<AgentIdentity> agentKeys = Array.Empty<AgentIdentity>();
        RgtException? agentError = null;
        if (target.Agent is { } agent)
        {
            try { agentKeys = agent.List(); }
            catch (RgtException ex) { agentError = ex; }
        }
        var publicHalves = target.IdentityFiles.ToDictionary(f => f, PublicHalf);
        if (target.IdentitiesOnly) agentKeys = agentKeys.Where(k => publicHalves.Values.Contains(k.Base64)).ToList();
        var sources = new List<IPrivateKeySource>();
        if (agentKeys.Count > 0) sources.Add(new AgentKeys(target.Agent!, agentKeys));
        foreach (var file in target.IdentityFiles)
        {
            if (publicHalves[file] is { } half && agentKeys.Any(k => k.Base64 == half)) continue;
            try
            {
                sources.Add(new PrivateKeyFile(file));
            }
            catch (Exception ex) when ((ex is FileNotFoundException or DirectoryNotFoundException) && agentKeys.Count > 0)
            {
                skipped.Add($"{file} (missing)");
            }
            catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
            {
                throw new RgtException("IdentityFileMissing", FailureKind.AuthenticationError, $"{target.Name}: the identity file {file} does not exist.", ex);
            }
            catch (SshPassPhraseNullOrEmptyException)
            {
                if (Unlock(target, file) is { } unlocked) sources.Add(unlocked);
                else skipped.Add($"{file} (protected by a passphrase, and no one to ask: an unattended run)");
            }
            catch (Exception ex) when (ex is SshException or InvalidOperationException or UnauthorizedAccessException or IOException or ArgumentException)
            {
                throw new RgtException("IdentityFileUnreadable", FailureKind.AuthenticationError, $"{target.Name}: cannot read the identity file {file}: {ex.Message}", ex);
            }
        }
        if (sources.Count > 0) return new Keys(sources.ToArray(), skipped);
        if (skipped.Count > 0)
            throw new RgtException("IdentityFileEncrypted", FailureKind.AuthenticationError,
                $"{target.Name}: the identity file {string.Join(", ", target.IdentityFiles)} is protected by a passphrase, and no ssh-agent holds it{(agentError is null ? "" : $" ({agentError.Message})")}. " +
                "An interactive session asks for the passphrase once; for unattended runs (a schedule, pwsh -NonInteractive) add the key to ssh-agent (ssh-add) or keep a decrypted copy with mode 600.");
        if (agentError is not null) throw agentError;
        throw new RgtException("AuthenticationFailed", FailureKind.AuthenticationError,
            $"{target.Name}: no identity file{(target.Agent is null ? "" : ", and the ssh-agent holds no key")}. Pass -IdentityFile, set IdentityFile in ~/.ssh/config, add a key to ssh-agent (ssh-add), or create ~/.ssh/id_ed25519 (ssh-keygen -t ed25519) and register its public key with the platform.");
    }

    /// <summary>The base64 key of the file's .pub beside it, to match with the agent's; null without one.</summary>
    static string? PublicHalf(string file)
    {
        try { return File.Exists(file + ".pub") && File.ReadAllText(file + ".pub").Split(' ', StringSplitOptions.RemoveEmptyEntries) is [_, var b64, ..] ? b64 : null; }
        catch (IOException) { return null; }
    }

    /// <summary>An encrypted identity file opened with the session's passphrase for it; null when there is no one to ask.</summary>
    static PrivateKeyFile? Unlock(SshTarget target, string file)
    {
        var passphrase = Passphrases.Get(file) ?? target.Passphrase?.Invoke(file);
        if (passphrase is null) return null;
        try
        {
            var key = new PrivateKeyFile(file, passphrase);
            Passphrases.Keep(file, passphrase);
            return key;
        }
        catch (Exception ex) when (ex is SshException or InvalidOperationException or ArgumentException or System.Security.Cryptography.CryptographicException)
        {
            Passphrases.Forget(file);
            throw new RgtException("IdentityPassphraseWrong", FailureKind.AuthenticationError, $"{target.Name}: the passphrase given for {file} does not open it.", ex);
        }
    }

    /// <summary>The agent's keys, each offered as the algorithms OpenSSH offers for its type (RSA: rsa-sha2-512, rsa-sha2-256, then ssh-rsa); the agent signs.</summary>
    sealed class AgentKeys : IPrivateKeySource
    {
        public AgentKeys(SshAgent agent, IEnumerable<AgentIdentity> keys) =>
            HostKeyAlgorithms = keys.SelectMany(k => k.KeyType == "ssh-rsa"
                ? new HostAlgorithm[] { new AgentKey("rsa-sha2-512", agent, k.Blob, SshAgent.RsaSha512), new AgentKey("rsa-sha2-256", agent, k.Blob, SshAgent.RsaSha256), new AgentKey("ssh-rsa", agent, k.Blob, 0) }
                : new HostAlgorithm[] { new AgentKey(k.KeyType, agent, k.Blob, 0) }).ToList();

        public IReadOnlyCollection<HostAlgorithm> HostKeyAlgorithms { get; }
    }

    sealed class AgentKey : HostAlgorithm
    {
        readonly SshAgent _agent;
        readonly byte[] _blob;
        readonly uint _flags;

        public AgentKey(string name, SshAgent agent, byte[] blob, uint flags) : base(name) { _agent = agent; _blob = blob; _flags = flags; }

        public override byte[] Data => _blob;

        public override byte[] Sign(byte[] data) => _agent.Sign(_blob, data, _flags);

        public override bool VerifySignature(byte[] data, byte[] signature) => throw new NotSupportedException("an agent's key only signs");
    }

    /// <summary>
    /// Offer the key types known_hosts holds for this host first, as OpenSSH does, so a known host is
    /// checked against the key type it is known by; the others stay offered, so a box that no longer
    /// has that key type presents another one, which the check calls changed (not unknown).
    /// </summary>
    static void SteerHostKeyAlgorithms(ConnectionInfo info, IReadOnlySet<string> knownTypes)
    {
        if (knownTypes.Count == 0) return;
        static string KeyTypeOf(string algorithm) => algorithm switch
        {
            "rsa-sha2-512" or "rsa-sha2-256" => "ssh-rsa",
            _ => algorithm,
        };
        var all = info.HostKeyAlgorithms.ToList();
        info.HostKeyAlgorithms.Clear();
        foreach (var kv in all.OrderBy(kv => knownTypes.Contains(KeyTypeOf(kv.Key)) ? 0 : 1)) info.HostKeyAlgorithms.Add(kv.Key, kv.Value);
    }

    static Exception MapConnectFailure(Exception ex, SshTarget target, HostKeyCheck? check, CancellationToken userToken, IReadOnlyList<string>? skipped = null)
    {
        if (ex is RgtException) return ex;
        if (check is { Status: HostKeyStatus.Unknown })
            return new RgtException("HostKeyUnknown", FailureKind.SecurityError,
                $"{target.Name} ({target.Display}) is not in known_hosts. Its {check.KeyType} host key fingerprint is {check.Fingerprint}. " +
                $"Compare it with the one the platform shows, then record it with: Test-GpuHost {PsName(target.Name)} -TrustOnFirstUse", ex);
        if (check is { Status: HostKeyStatus.Changed, KnownFile: null })
            return new RgtException("HostKeyMismatch", FailureKind.SecurityError,
                $"{target.Name} ({target.Display}) presents the host key {check.Fingerprint}, not its own key pinned at first contact ({check.KnownFingerprint}); " +
                "other keys known for this address do not count. The provider may have put the rental on another machine, or the address is someone else's now; refusing to continue.", ex);
        if (check is { Status: HostKeyStatus.Changed })
            return new RgtException("HostKeyMismatch", FailureKind.SecurityError,
                $"The host key of {target.Name} ({target.Display}) has CHANGED: known_hosts ({check.KnownFile}, line {check.KnownLine}) has {check.KnownFingerprint}, the server now presents {check.Fingerprint}. " +
                $"Rental platforms reuse host:port, so the instance was probably re-created or released to someone else; it may also be an attack. " +
                $"If you re-created it, remove the stale entry with: ssh-keygen -R '{KnownHosts.HostKey(target.HostName, target.Port)}' -f '{check.KnownFile}', then record the new key with: Test-GpuHost {PsName(target.Name)} -TrustOnFirstUse", ex);
        if (check is { Status: HostKeyStatus.Revoked })
            return new RgtException("HostKeyRevoked", FailureKind.SecurityError,
                $"{target.Name} presented the host key {check.Fingerprint}, which known_hosts marks @revoked.", ex);
        if (ex is OperationCanceledException && userToken.IsCancellationRequested) return ex;
        if (ex is OperationCanceledException or SshOperationTimeoutException or TimeoutException)
            return new RgtException("SshTimeout", FailureKind.Timeout,
                $"{target.Name} ({target.Display}) did not complete the SSH handshake within {target.ConnectTimeout.TotalSeconds:0} s. The instance may be stopped, still booting, or its port changed after a restart; check the platform console.", ex);
        if (ex is SshAuthenticationException)
            return new RgtException("AuthenticationFailed", FailureKind.AuthenticationError,
                $"{target.Name} ({target.Display}) refused the key(s) {string.Join(", ", target.IdentityFiles)}{(target.Agent is null ? "" : " and those of the ssh-agent")} for user {target.User}" +
                (skipped is { Count: > 0 } ? $"; not offered: {string.Join("; ", skipped)}" : "") + ". Register the public key with the platform or set -IdentityFile.", ex);
        if (ex is SocketException se)
            return new RgtException("HostUnreachable", FailureKind.ConnectionError,
                $"{target.Name} ({target.Display}) is unreachable: {se.SocketErrorCode}. The instance may be stopped or its port changed; only the platform console shows power and balance.", ex);
        if (ex is SshConnectionException or SshException)
            return new RgtException("HostUnreachable", FailureKind.ConnectionError,
                $"{target.Name} ({target.Display}): the SSH connection failed: {ex.Message}", ex);
        return new RgtException("HostUnreachable", FailureKind.ConnectionError, $"{target.Name} ({target.Display}): {ex.Message}", ex);
    }

    /// <summary>
    /// Runs a command and hands each line of its output (stdout: false, stderr: true) to
    /// <paramref name="onLine"/> as it arrives, from a reader thread; the returned output holds the
    /// exit status (its text fields are empty: the lines went to the callback).
    /// </summary>
    /// <param name="keepText">Also return the whole output byte for byte (held in memory); without it only the lines go out.</param>
    public async Task<CommandOutput> RunStreamingAsync(string command, TimeSpan timeout, Action<string, bool> onLine, CancellationToken cancellationToken, bool keepText = false)
    {
        var texts = new string[2];
        var output = await ExecuteAsync(command, timeout, cancellationToken, async (cmd, token) =>
        {
            // Lines go out as they complete (a last one without newline at the end); the text is kept byte for byte.
            async Task Pump(Stream stream, bool isError)
            {
                using var reader = new StreamReader(stream, System.Text.Encoding.UTF8);
                var all = new System.Text.StringBuilder();
                var line = new System.Text.StringBuilder();
                var buf = new char[8192];
                int n;
                while ((n = await reader.ReadAsync(buf.AsMemory(), token).ConfigureAwait(false)) > 0)
                {
                    if (keepText) all.Append(buf, 0, n);
                    for (var i = 0; i < n; i++)
                    {
                        if (buf[i] != '\n') { line.Append(buf[i]); continue; }
                        if (line.Length > 0 && line[^1] == '\r') line.Length--;
                        onLine(line.ToString(), isError);
                        line.Clear();
                    }
                }
                if (line.Length > 0) onLine(line.ToString(), isError);
                texts[isError ? 1 : 0] = all.ToString();
            }
            var run = cmd.ExecuteAsync(token);
            var pumps = Task.WhenAll(Task.Run(() => Pump(cmd.OutputStream, false)), Task.Run(() => Pump(cmd.ExtendedOutputStream, true)));
            await run.ConfigureAwait(false);
            await pumps.ConfigureAwait(false);
        }, streamed: true).ConfigureAwait(false);
        return output with { StdOut = texts[0] ?? "", StdErr = texts[1] ?? "" };
    }

    /// <summary>A host name as PowerShell reads it back: bare when plain, else single-quoted.</summary>
    static string PsName(string name) =>
        System.Text.RegularExpressions.Regex.IsMatch(name, "^[A-Za-z0-9_.-]+$") ? name : "'" + name.Replace("'", "''") + "'";

    public Task<CommandOutput> RunAsync(string command, TimeSpan timeout, CancellationToken cancellationToken, string? standardInput = null) =>
        ExecuteAsync(command, timeout, cancellationToken, async (cmd, token) =>
        {
            var run = cmd.ExecuteAsync(token);
            if (standardInput is not null)
            {
                using var input = cmd.CreateInputStream();
                var bytes = System.Text.Encoding.UTF8.GetBytes(standardInput);
                await input.WriteAsync(bytes, token).ConfigureAwait(false);
            }
            await run.ConfigureAwait(false);
        }, streamed: false);

    /// <summary>
    /// Runs a command whose standard input is raw bytes that <paramref name="writeInput"/> writes (a tar
    /// stream); writes wait for the box's window, so nothing piles up in memory. Output is buffered text.
    /// </summary>
    public Task<CommandOutput> RunWithInputAsync(string command, TimeSpan timeout, Func<Stream, CancellationToken, Task> writeInput, CancellationToken cancellationToken) =>
        ExecuteAsync(command, timeout, cancellationToken, async (cmd, token) =>
        {
            var run = cmd.ExecuteAsync(token);
            using (var input = cmd.CreateInputStream())
                await Task.Run(() => writeInput(input, token), token).ConfigureAwait(false);
            await run.ConfigureAwait(false);
        }, streamed: false);

    /// <summary>
    /// Starts a command whose standard output is raw bytes (a file's content) for the caller to read
    /// from Output; Completion then gives its exit status and standard error. SSH.NET buffers what the
    /// caller has not read yet without limit, so a caller asks for bounded ranges. No time limit: the
    /// caller watches the bytes and disposes the connection when they stop.
    /// </summary>
    public (Stream Output, Task<CommandOutput> Completion) StartBinary(string command, CancellationToken cancellationToken)
    {
        var sw = Stopwatch.StartNew();
        var cmd = _client.CreateCommand(command);
        cmd.CommandTimeout = System.Threading.Timeout.InfiniteTimeSpan;
        var run = cmd.ExecuteAsync(cancellationToken);
        async Task<CommandOutput> Finish()
        {
            try
            {
                await run.ConfigureAwait(false);
                return new CommandOutput(cmd.ExitStatus, "", cmd.Error, sw.Elapsed, cmd.ExitSignal);
            }
            catch (Exception ex) when (ex is SshConnectionException or SshException or SocketException or ObjectDisposedException && !cancellationToken.IsCancellationRequested)
            {
                throw new RgtException("ConnectionLost", FailureKind.ConnectionError, $"{Target.Name}: the SSH connection dropped during the command: {ex.Message}", ex);
            }
            finally { cmd.Dispose(); }
        }
        return (cmd.OutputStream, Finish());
    }

    /// <summary>One exec channel, bounded by <paramref name="timeout"/>, with SSH.NET's failures mapped to the module's errors.</summary>
    async Task<CommandOutput> ExecuteAsync(string command, TimeSpan timeout, CancellationToken cancellationToken, Func<SshCommand, CancellationToken, Task> run, bool streamed)
    {
        var sw = Stopwatch.StartNew();
        using var cmd = _client.CreateCommand(command);
        cmd.CommandTimeout = timeout;
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        linked.CancelAfter(timeout);
        try
        {
            await run(cmd, linked.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or SshOperationTimeoutException && !cancellationToken.IsCancellationRequested)
        {
            throw new RgtException("CommandTimeout", FailureKind.Timeout,
                $"{Target.Name}: the command did not finish within {timeout.TotalSeconds:0} s and was stopped.", ex);
        }
        catch (Exception ex) when (ex is SshConnectionException or SshException or SocketException or ObjectDisposedException && !cancellationToken.IsCancellationRequested)
        {
            throw new RgtException("ConnectionLost", FailureKind.ConnectionError, $"{Target.Name}: the SSH connection dropped during the command: {ex.Message}", ex);
        }
        return streamed
            ? new CommandOutput(cmd.ExitStatus, "", "", sw.Elapsed, cmd.ExitSignal)
            : new CommandOutput(cmd.ExitStatus, cmd.Result, cmd.Error, sw.Elapsed, cmd.ExitSignal);
    }

    /// <summary>
    /// Whether the connection can be lent again: still connected and, with <paramref name="probe"/> (it sat
    /// idle a while: a NAT or the box may have dropped it without a word), answering a command within 5 s.
    /// </summary>
    internal bool IsAlive(bool probe)
    {
        if (!_client.IsConnected) return false;
        if (!probe) return true;
        try
        {
            using var cmd = _client.CreateCommand("true");
            cmd.CommandTimeout = TimeSpan.FromSeconds(5);
            cmd.Execute();
            return cmd.ExitStatus == 0;
        }
        catch (Exception) { return false; }
    }

    public void Dispose()
    {
        // Disconnect sends first, and blocks while the peer reads nothing (SSH.NET #1552): give it a moment, then cut the socket.
        var client = _client;
        var t = Task.Run(() => { try { client.Disconnect(); } catch (Exception) { } finally { client.Dispose(); } });
        if (!t.Wait(TimeSpan.FromSeconds(2))) CutSocket(client);
        _hops?.Dispose();
    }

    /// <summary>
    /// Drops a stalled connection now: the socket is shut, which wakes a write waiting on a full send
    /// buffer (a peer that stopped reading); the client is disposed in the background.
    /// </summary>
    public void Abort()
    {
        CutSocket(_client);
        var client = _client;
        _ = Task.Run(() => { try { client.Dispose(); } catch (Exception) { } });
    }

    static readonly System.Reflection.PropertyInfo? SessionProperty =
        typeof(BaseClient).GetProperty("Session", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance);
    static readonly System.Reflection.FieldInfo? SocketField =
        typeof(BaseClient).Assembly.GetType("Renci.SshNet.Session")?.GetField("_socket", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance);

    // SSH.NET has no public way to close a session's socket. Should an upgrade move these, the cut does
    // nothing and the stalled-upload test of Transfer.Tests.ps1 (dropped after -StallTimeout) fails.
    static void CutSocket(BaseClient client)
    {
        try { (SocketField?.GetValue(SessionProperty?.GetValue(client)) as Socket)?.Shutdown(SocketShutdown.Both); }
        catch (Exception) { }
    }
}
