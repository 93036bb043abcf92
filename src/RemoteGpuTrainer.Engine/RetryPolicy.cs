using System.Net.Http;
using System.Net.Sockets;
using Renci.SshNet.Common;

namespace RemoteGpuTrainer.Engine;

/// <summary>
/// The one retry rule of the module, for every step it repeats: downloads, uploads, upload batches and
/// provider calls. A failure is retried only when it is <see cref="IsTransient"/> (the link, not the
/// request, was at fault) and the caller did not cancel; the n-th retry waits 0.25 s doubled n-1 times,
/// at most 8 s, with ±25 % jitter so that many clients that lost the same link do not come back in step.
/// A server that names its own wait (Retry-After) is waited out instead, up to <see cref="LongestWait"/>.
/// </summary>
public sealed record RetryPolicy(int MaxRetries = 5)
{
    public static readonly TimeSpan FirstWait = TimeSpan.FromSeconds(0.25);
    public static readonly TimeSpan LongestBackoff = TimeSpan.FromSeconds(8);
    /// <summary>A server's own Retry-After longer than this is not waited out: the call fails and says so.</summary>
    public static readonly TimeSpan LongestWait = TimeSpan.FromSeconds(30);

    public static RetryPolicy Default { get; } = new();

    /// <summary>Whether another try may follow <paramref name="triesSoFar"/> tries (0 before the first).</summary>
    public bool AnotherTry(int triesSoFar) => triesSoFar <= MaxRetries;

    /// <summary>The wait before retry number <paramref name="retry"/> (1 = the first retry).</summary>
    public static TimeSpan Backoff(int retry, Random? rng = null)
    {
        var plain = Math.Min(LongestBackoff.TotalSeconds, FirstWait.TotalSeconds * Math.Pow(2, Math.Max(0, retry - 1)));
        return TimeSpan.FromSeconds(plain * (0.75 + (rng ?? Random.Shared).NextDouble() * 0.5));
    }

    public static Task WaitAsync(int retry, CancellationToken ct) => Task.Delay(Backoff(retry), ct);

    /// <summary>
    /// The link failed, not the request: a dropped or refused connection, a stall, a timeout, a session that
    /// died under a read. Never transient: the caller's own cancellation, a refused key or password, a changed
    /// host key, bad data, anything the far side answered on purpose.
    /// </summary>
    public static bool IsTransient(Exception ex, CancellationToken ct)
    {
        if (ct.IsCancellationRequested) return false;
        return ex switch
        {
            RgtException r => r.Kind is FailureKind.ConnectionError or FailureKind.Timeout,
            SshAuthenticationException => false,
            SshException or IOException or SocketException or TimeoutException or ObjectDisposedException or HttpRequestException => true,
            // With the caller's token still live, a cancellation is a timeout inside the client (HttpClient, SSH.NET).
            OperationCanceledException => true,
            // SSH.NET reports a use of a connection that just died as InvalidOperationException ("The session is not open").
            InvalidOperationException { Source: "Renci.SshNet" } => true,
            _ => false,
        };
    }

    /// <summary>
    /// A request that cannot be repeated blindly (a create) may still be sent again when it provably never left:
    /// the connection to the server could not be made at all.
    /// </summary>
    public static bool NeverSent(Exception ex) =>
        ex is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError };
}
