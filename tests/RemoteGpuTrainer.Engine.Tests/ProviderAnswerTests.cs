using System.Text.Json;
using RemoteGpuTrainer.Engine.Checkpoints;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Providers;
using Xunit;

namespace RemoteGpuTrainer.Engine.Tests;

/// <summary>Provider answers that are malformed or out of range, and the evidence rules for pulled files.</summary>
public class ProviderAnswerTests
{
    static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement.Clone();

    [Theory]
    [InlineData("{\"p\": 70000}")]
    [InlineData("{\"p\": 0}")]
    [InlineData("{\"p\": -22}")]
    [InlineData("{\"p\": 22.5}")]
    [InlineData("{\"p\": \"65536\"}")]
    public void A_port_outside_1_to_65535_is_a_ProviderError_naming_the_field(string body)
    {
        var ex = Assert.Throws<RgtException>(() => ProviderHttp.Port(Json(body), "p", "runpod", "portMappings."));
        Assert.Equal("ProviderError", ex.ErrorId);
        Assert.Contains("portMappings.p", ex.Message);
    }

    [Fact]
    public void Ports_in_range_and_absent_ones_read_as_they_are()
    {
        Assert.Equal(22, ProviderHttp.Port(Json("{\"p\": 22}"), "p", "x"));
        Assert.Equal(65535, ProviderHttp.Port(Json("{\"p\": \"65535\"}"), "p", "x"));
        Assert.Null(ProviderHttp.Port(Json("{}"), "p", "x"));
    }

    [Theory]
    [InlineData("{\"c\": 1e30}")]
    [InlineData("{\"c\": -0.5}")]
    [InlineData("{\"c\": 1e300}")]
    public void A_price_that_is_no_price_is_a_ProviderError_not_an_overflow(string body)
    {
        var ex = Assert.Throws<RgtException>(() => ProviderHttp.Price(Json(body), "c", "vastai"));
        Assert.Equal("ProviderError", ex.ErrorId);
        Assert.Contains("field c", ex.Message);
    }

    [Fact]
    public void Prices_are_rounded_and_cents_scaled()
    {
        Assert.Equal(1.1523m, ProviderHttp.Price(Json("{\"c\": 1.15234}"), "c", "x"));
        Assert.Equal(12.49m, ProviderHttp.Price(Json("{\"c\": 1249}"), "c", "lambda", scale: 100));
    }

    [Theory]
    [InlineData("{\"t\": 1e15}", true)]
    [InlineData("{\"t\": -5}", true)]
    [InlineData("{\"t\": \"0001-01-01T00:00:00Z\"}", false)]
    [InlineData("{\"t\": \"yesterday\"}", false)]
    public void A_time_out_of_range_or_unreadable_is_a_ProviderError(string body, bool unix)
    {
        Assert.Equal("ProviderError", Assert.Throws<RgtException>(() => ProviderHttp.Time(Json(body), "t", "x", unix)).ErrorId);
    }

    [Fact]
    public void A_body_that_is_not_an_object_is_a_ProviderError()
    {
        var ex = Assert.Throws<RgtException>(() => ProviderHttp.Object(Json("[{\"id\": \"1\"}]"), "runpod", "the answer for pod 1", "[…]"));
        Assert.Equal("ProviderError", ex.ErrorId);
        Assert.Contains("not a JSON object (Array)", ex.Message);
    }

    const string Box = "aaaa1111", Other = "bbbb2222";

    static GpuTransfer Pulled(string local, string host = "box", string remote = "/d/c1/best.pth") =>
        new() { Name = host, LocalPath = local, RemotePath = remote, Sha256 = Box, RemoteSha256 = Box, Status = "Downloaded" };

    static LedgerEntry PullLine(string local, string host, string remote, string sha) =>
        new(DateTimeOffset.Now, host, remote, sha, Path.GetFullPath(local), sha, "Pulled", null, "Downloaded", "me");

    [Fact]
    public void A_pulled_file_counts_only_while_it_is_the_boxs_bytes_and_the_ledgers_newest_pull()
    {
        var t = Pulled("/tmp/x/c1/best.pth");
        var ledger = new[] { PullLine(t.LocalPath, "box", t.RemotePath, Box) };
        Assert.Null(EvidenceLedger.ModifiedSincePull(ledger, t, Box));
        Assert.Contains("not the one pulled from box", EvidenceLedger.ModifiedSincePull(ledger, t, Other));
        Assert.Contains("no pull of this path", EvidenceLedger.ModifiedSincePull(Array.Empty<LedgerEntry>(), t, Box));
        // Another host's cell pulled over it later, with the same bytes or not: the newest pull is not this one.
        var over = ledger.Append(PullLine(t.LocalPath, "twin", t.RemotePath, Box)).ToArray();
        Assert.Contains("came from twin", EvidenceLedger.ModifiedSincePull(over, t, Box));
        var differs = new GpuTransfer { Name = "box", LocalPath = t.LocalPath, RemotePath = t.RemotePath, Sha256 = Box, RemoteSha256 = Other };
        Assert.Contains("no verified hash", EvidenceLedger.ModifiedSincePull(ledger, differs, Box));
    }

    [Fact]
    public void A_verdict_is_evidence_only_when_its_local_bytes_are_the_boxs()
    {
        LedgerEntry Verified(string? local, string? remote) => new(DateTimeOffset.Now, "box", "/d/best.pth", remote, "/tmp/best.pth", local, "Verified", "Safe", null, "me");
        Assert.True(EvidenceLedger.IsEvidence(Verified(Box, Box)));
        Assert.False(EvidenceLedger.IsEvidence(Verified(Other, Box)));
        Assert.False(EvidenceLedger.IsEvidence(Verified(null, Box)));
        Assert.False(EvidenceLedger.IsEvidence(Verified(Box, Box) with { Verdict = "ModifiedSincePull" }));
    }
}

public class AccountObjectTests
{
    static Providers.ProviderResponse Answer(int status, string body) => new((System.Net.HttpStatusCode)status, body, null, null);

    [Theory]
    [InlineData(400, "{\"success\": false, \"error\": \"invalid_args\", \"msg\": \"SSH key already exists on this account.\"}", true)]
    [InlineData(409, "{\"message\": \"Duplicate key\"}", true)]
    [InlineData(422, "{\"error\": \"key exists\"}", true)]
    [InlineData(400, "{\"error\": \"invalid_args\", \"msg\": \"not an OpenSSH public key\"}", false)]
    [InlineData(500, "{\"error\": \"already broken\"}", false)]
    [InlineData(403, "{\"error\": \"exists\"}", false)]
    public void Only_a_refusal_that_says_it_is_there_already_counts_as_done(int status, string body, bool done) =>
        Assert.Equal(done, Providers.ProviderHttp.SaysAlreadyThere(Answer(status, body)));

    [Theory]
    [InlineData("ssh-ed25519 AAAAC3Nza me@laptop", "ssh-ed25519 AAAAC3Nza")]
    [InlineData("  ssh-ed25519   AAAAC3Nza  ", "ssh-ed25519 AAAAC3Nza")]
    [InlineData(null, "")]
    public void A_key_is_compared_without_its_comment(string? key, string text) => Assert.Equal(text, Providers.ProviderHttp.KeyText(key));
}
