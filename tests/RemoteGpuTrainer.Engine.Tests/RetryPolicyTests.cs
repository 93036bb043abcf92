using System.Net.Http;
using System.Net.Sockets;
using RemoteGpuTrainer.Engine;
using Renci.SshNet.Common;
using Xunit;

namespace RemoteGpuTrainer.Engine.Tests;

public class RetryPolicyTests
{
    [Theory]
    [InlineData(1, 0.25)]
    [InlineData(2, 0.5)]
    [InlineData(4, 2.0)]
    [InlineData(6, 8.0)]
    [InlineData(30, 8.0)]
    public void Backoff_doubles_from_a_quarter_second_is_capped_at_eight_and_jitters_by_a_quarter(int retry, double plain)
    {
        var rng = new Random(7);
        var waits = Enumerable.Range(0, 200).Select(_ => RetryPolicy.Backoff(retry, rng).TotalSeconds).ToList();
        Assert.All(waits, w => Assert.InRange(w, plain * 0.75, plain * 1.25));
        // Jitter: the waits are not all the same, so clients that lost one link do not come back in step.
        Assert.True(waits.Distinct().Count() > 100);
    }

    [Fact]
    public void A_policy_of_n_retries_allows_n_plus_one_tries()
    {
        var policy = new RetryPolicy(2);
        Assert.True(policy.AnotherTry(0));
        Assert.True(policy.AnotherTry(2));
        Assert.False(policy.AnotherTry(3));
        Assert.False(new RetryPolicy(0).AnotherTry(1));
    }

    public static TheoryData<Exception, bool> Failures() => new()
    {
        { new IOException("broken pipe"), true },
        { new SocketException(104), true },
        { new TimeoutException(), true },
        { new SshConnectionException("reset"), true },
        { new HttpRequestException("refused", null, System.Net.HttpStatusCode.BadGateway), true },
        { new TaskCanceledException("the client's own timeout"), true },
        { new RgtException("SshConnectFailed", FailureKind.ConnectionError, "x"), true },
        { new RgtException("SshTimeout", FailureKind.Timeout, "x"), true },
        // What the far side answered on purpose, or a rule, is never repeated.
        { new SshAuthenticationException("Permission denied (publickey)."), false },
        { new RgtException("HostKeyMismatch", FailureKind.SecurityError, "x"), false },
        { new RgtException("AuthFailed", FailureKind.AuthenticationError, "x"), false },
        { new RgtException("HashMismatch", FailureKind.InvalidData, "x"), false },
        { new RgtException("LocalDiskFull", FailureKind.OperationFailed, "x"), false },
        { new UnauthorizedAccessException(), false },
        { new InvalidOperationException("a bug of ours"), false },
        { new FormatException(), false },
    };

    [Theory]
    [MemberData(nameof(Failures))]
    public void Only_a_failed_link_is_transient(Exception failure, bool transient) =>
        Assert.Equal(transient, RetryPolicy.IsTransient(failure, CancellationToken.None));

    [Fact]
    public void Nothing_is_transient_once_the_caller_cancelled()
    {
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.False(RetryPolicy.IsTransient(new OperationCanceledException(cts.Token), cts.Token));
        Assert.False(RetryPolicy.IsTransient(new IOException("dropped while stopping"), cts.Token));
    }

    [Fact]
    public void A_create_is_sent_again_only_when_the_connection_was_never_made()
    {
        Assert.True(RetryPolicy.NeverSent(new HttpRequestException(HttpRequestError.ConnectionError, "refused")));
        Assert.True(RetryPolicy.NeverSent(new HttpRequestException(HttpRequestError.NameResolutionError, "no such host")));
        Assert.False(RetryPolicy.NeverSent(new HttpRequestException(HttpRequestError.ResponseEnded, "the answer was cut")));
        Assert.False(RetryPolicy.NeverSent(new TaskCanceledException("timed out waiting for the answer")));
    }

    [Fact]
    public async Task A_create_to_a_port_that_refuses_is_tried_again_and_then_named_unreachable_not_maybe_done()
    {
        // A port that was just free: nothing listens, so every connect is refused and no request leaves.
        var listener = new TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var logged = new List<string>();
        using var http = new Providers.ProviderHttp("runpod", "k-secret", logged.Add) { Retry = new RetryPolicy(1) };
        var ex = await Assert.ThrowsAsync<RgtException>(() => http.SendOnceAsync(HttpMethod.Post, new Uri($"http://127.0.0.1:{port}/pods"), new { name = "x" }, _ => null, CancellationToken.None));
        Assert.Equal("ProviderUnreachable", ex.ErrorId);
        Assert.Contains("after 2 tries", ex.Message);
        Assert.Single(logged);
        Assert.DoesNotContain("k-secret", ex.Message + string.Join("", logged));
    }
}
