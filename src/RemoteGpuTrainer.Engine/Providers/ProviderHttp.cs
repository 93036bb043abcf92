using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace RemoteGpuTrainer.Engine.Providers;

/// <summary>What one API call returned: status, body (JSON when it parses) and the Retry-After the server asked for.</summary>
public sealed record ProviderResponse(HttpStatusCode Status, string Body, JsonElement? Json, TimeSpan? RetryAfter);

/// <summary>
/// One provider's HTTP calls: Bearer auth (the key only ever in the header), retried by the module's one
/// <see cref="RetryPolicy"/>: a 429 waits its Retry-After (seconds or a date), else backs off; a 5xx and a
/// transient link failure back off the same way; everything else goes to the provider's classifier at once.
/// A call that is not idempotent (an instance's create) is sent once: a 5xx, a dropped connection or a
/// timeout after it was sent is <c>ProviderOutcomeUnknown</c>, since the provider may have acted on it.
/// Only a connection that could not be made at all (so nothing was sent) is tried again for it.
/// </summary>
public sealed class ProviderHttp : IDisposable
{
    readonly HttpClient _http;
    readonly string _provider;
    readonly Action<string>? _log;
    public RetryPolicy Retry { get; init; } = RetryPolicy.Default;

    /// <summary>Owns its client: the key is a default header of it, so one client serves one provider.</summary>
    public ProviderHttp(string provider, string key, Action<string>? log = null, TimeSpan? timeout = null)
    {
        _http = new HttpClient { Timeout = timeout ?? TimeSpan.FromSeconds(60) };
        _provider = provider;
        _log = log;
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        _http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
    }

    /// <summary>Sends a call that may be repeated safely (reads, stops, deletes): retried on 429, 5xx and dropped connections.</summary>
    public Task<ProviderResponse> SendAsync(HttpMethod method, Uri url, object? body, Func<ProviderResponse, RgtException?> classify, CancellationToken ct) =>
        SendAsync(method, url, body, classify, idempotent: true, ct);

    /// <summary>Sends a create: a 429 (refused before any work) is waited out, but nothing that may have reached the provider is sent again.</summary>
    public Task<ProviderResponse> SendOnceAsync(HttpMethod method, Uri url, object? body, Func<ProviderResponse, RgtException?> classify, CancellationToken ct) =>
        SendAsync(method, url, body, classify, idempotent: false, ct);

    async Task<ProviderResponse> SendAsync(HttpMethod method, Uri url, object? body, Func<ProviderResponse, RgtException?> classify, bool idempotent, CancellationToken ct)
    {
        for (int tries = 1; ; tries++)
        {
            ProviderResponse response;
            try
            {
                using var request = new HttpRequestMessage(method, url);
                if (body is not null) request.Content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");
                using var reply = await _http.SendAsync(request, ct).ConfigureAwait(false);
                var text = await reply.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
                JsonElement? json = null;
                try { if (text.Length > 0) json = JsonDocument.Parse(text).RootElement.Clone(); } catch (JsonException) { }
                response = new ProviderResponse(reply.StatusCode, text, json, RetryAfter(reply));
            }
            catch (Exception ex) when (RetryPolicy.IsTransient(ex, ct))
            {
                if (!idempotent && !RetryPolicy.NeverSent(ex))
                    throw OutcomeUnknown(method, url, ex.Message, ex);
                if (!Retry.AnotherTry(tries))
                    throw new RgtException("ProviderUnreachable", FailureKind.ConnectionError, $"{_provider}: {url.Host} did not answer after {tries} tries ({ex.Message}).", ex);
                await WaitAsync(RetryPolicy.Backoff(tries), $"{url.Host} did not answer", ct).ConfigureAwait(false);
                continue;
            }
            var status = (int)response.Status;
            if (!idempotent && status >= 500)
                throw OutcomeUnknown(method, url, $"HTTP {status}: {Short(response.Body)}", null);
            if (status == 429 || status >= 500)
            {
                var wait = response.RetryAfter ?? RetryPolicy.Backoff(tries);
                if (!Retry.AnotherTry(tries) || wait > RetryPolicy.LongestWait)
                    throw status == 429
                        ? new RgtException("RateLimited", FailureKind.ResourceBusy, $"{_provider}: the API still limits this key's request rate after {tries} tries{(response.RetryAfter is { } ra ? $" (it asks to wait {ra.TotalSeconds:0} s)" : "")}; try again in a minute.")
                        : new RgtException("ProviderError", FailureKind.OperationFailed, $"{_provider}: the API failed with HTTP {status} {tries} times: {Short(response.Body)}");
                await WaitAsync(wait, status == 429 ? "rate limited (429)" : $"HTTP {status}", ct).ConfigureAwait(false);
                continue;
            }
            if (classify(response) is { } error) throw error;
            if (status is 401 or 403)
                throw new RgtException("ProviderAuthFailed", FailureKind.AuthenticationError, $"{_provider}: the API key was refused (HTTP {status}); check it (the key itself is not shown).");
            if (status >= 400)
                throw new RgtException("ProviderError", FailureKind.OperationFailed, $"{_provider}: HTTP {status}: {Short(response.Body)}");
            return response;
        }
    }

    public void Dispose() => _http.Dispose();

    RgtException OutcomeUnknown(HttpMethod method, Uri url, string what, Exception? inner) =>
        new("ProviderOutcomeUnknown", FailureKind.ConnectionError,
            $"{_provider}: {method} {url.AbsolutePath} got no usable answer ({what}); the provider may have acted on it, so it is not sent again.", inner);

    async Task WaitAsync(TimeSpan wait, string why, CancellationToken ct)
    {
        _log?.Invoke($"{_provider}: {why}; retrying in {wait.TotalSeconds:0.0} s");
        await Task.Delay(wait, ct).ConfigureAwait(false);
    }

    static TimeSpan? RetryAfter(HttpResponseMessage reply)
    {
        var h = reply.Headers.RetryAfter;
        if (h?.Delta is { } d) return d;
        if (h?.Date is { } date) return date - DateTimeOffset.UtcNow is var left && left > TimeSpan.Zero ? left : TimeSpan.Zero;
        return null;
    }

    /// <summary>The answer's member <paramref name="name"/> of the expected kind, else a ProviderError saying what was missing.</summary>
    public static JsonElement Member(ProviderResponse r, string name, JsonValueKind kind, string provider, string what) =>
        r.Json is { ValueKind: JsonValueKind.Object } j && j.TryGetProperty(name, out var v) && v.ValueKind == kind ? v
            : throw new RgtException("ProviderError", FailureKind.InvalidData, $"{provider}: {what}: {Short(r.Body)}");

    /// <summary>An OpenSSH public key without its comment ("type base64"), as accounts compare keys.</summary>
    public static string KeyText(string? publicKey) => string.Join(' ', (publicKey ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries).Take(2));

    /// <summary>
    /// A refusal that means "you have this already" (400, 409 or 422 saying it exists): for an account key or
    /// a named object we add only when missing, that is success, not a failure of the rental.
    /// </summary>
    public static bool SaysAlreadyThere(ProviderResponse r) =>
        (int)r.Status is 400 or 409 or 422 && System.Text.RegularExpressions.Regex.IsMatch(r.Body, @"already|exists|duplicate", System.Text.RegularExpressions.RegexOptions.IgnoreCase);

    /// <summary>
    /// Adds an account object (an SSH key, a named script) with a POST that may be repeated: an answer that it
    /// is there already counts as done. Any other refusal is the provider's error as usual.
    /// </summary>
    public async Task AddUnlessThereAsync(Uri url, object body, Func<ProviderResponse, RgtException?> classify, CancellationToken ct)
    {
        try
        {
            await SendAsync(HttpMethod.Post, url, body, r => SaysAlreadyThere(r) ? new RgtException(AlreadyThere, FailureKind.OperationFailed, "there already") : classify(r), ct).ConfigureAwait(false);
        }
        catch (RgtException ex) when (ex.ErrorId == AlreadyThere)
        {
            _log?.Invoke($"{_provider}: {url.AbsolutePath}: the account has it already");
        }
    }

    const string AlreadyThere = "AlreadyThere";

    /// <summary>A body cut for a message (the key is never in a body we send back).</summary>
    public static string Short(string body) => body.Length <= 300 ? body.Trim() : body[..300].Trim() + "…";

    public static string? Str(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) ? v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(), JsonValueKind.Null or JsonValueKind.Undefined => null, _ => v.GetRawText(),
        } : null;

    /// <summary>An SSH port: absent is null; present, it must be 1-65535 (else a ProviderError naming the field).</summary>
    public static int? Port(JsonElement e, string name, string provider, string what = "") =>
        Num(e, name) is not { } n ? null
        : n >= 1 && n <= 65535 && n == Math.Floor(n) ? (int)n
        : throw Malformed(provider, what + name, Raw(e, name), "not a port (1-65535)");

    /// <summary>A price per hour: absent is null; present, a number from 0 to 100,000 (a decimal cast of 1e30 would overflow).</summary>
    public static decimal? Price(JsonElement e, string name, string provider, string what = "", double scale = 1) =>
        Num(e, name) is not { } n ? null
        : n >= 0 && n / scale <= 100_000 ? Math.Round((decimal)(n / scale), 4)
        : throw Malformed(provider, what + name, Raw(e, name), "not an hourly price");

    /// <summary>A count (GPUs): absent is null; present, 0 to 1,024.</summary>
    public static int? Count(JsonElement e, string name, string provider, string what = "") =>
        Num(e, name) is not { } n ? null
        : n >= 0 && n <= 1024 && n == Math.Floor(n) ? (int)n
        : throw Malformed(provider, what + name, Raw(e, name), "not a count");

    /// <summary>A time as an ISO 8601 text, or with <paramref name="unixSeconds"/> seconds since 1970; absent is null, out of range a ProviderError.</summary>
    public static DateTimeOffset? Time(JsonElement e, string name, string provider, bool unixSeconds = false)
    {
        if (unixSeconds)
        {
            if (Num(e, name) is not { } s) return null;
            // 2000-01-01 to 2200-01-01: anything else is not a creation time.
            return s >= 946_684_800 && s <= 7_258_118_400 ? DateTimeOffset.FromUnixTimeMilliseconds((long)(s * 1000))
                : throw Malformed(provider, name, Raw(e, name), "not a time");
        }
        if (Str(e, name) is not { Length: > 0 } text) return null;
        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at) && at.Year is >= 2000 and < 2200 ? at
            : throw Malformed(provider, name, text, "not a time");
    }

    /// <summary>The answer's body as the object it must be (an instance), else a ProviderError saying what came instead.</summary>
    public static JsonElement Object(JsonElement? e, string provider, string what, string body) =>
        e is { ValueKind: JsonValueKind.Object } o ? o
        : throw new RgtException("ProviderError", FailureKind.InvalidData, $"{provider}: {what} is not a JSON object ({e?.ValueKind.ToString() ?? "no JSON"}): {Short(body)}");

    public static RgtException Malformed(string provider, string field, string? value, string why) =>
        new("ProviderError", FailureKind.InvalidData, $"{provider}: the answer's field {field} is {Short(value ?? "missing")}, {why}; the answer is not used.");

    static string? Raw(JsonElement e, string name) => e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) ? v.GetRawText() : null;

    public static double? Num(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble()
        : e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var s) && s.ValueKind == JsonValueKind.String && double.TryParse(s.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var n) ? n : null;
}
