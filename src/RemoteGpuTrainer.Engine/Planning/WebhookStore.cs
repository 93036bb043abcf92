using System.Security.Cryptography;
using System.Text;

namespace RemoteGpuTrainer.Engine.Planning;

/// <summary>
/// Webhook URLs are secrets (Slack-style tokens live in the path): they are kept in mode-600 files
/// under the config directory and referred to by name, so a crontab line, a process list, -WhatIf
/// text or an error only ever shows the name, or the scheme and host.
/// </summary>
public static class WebhookStore
{
    public static string Directory => Path.Combine(ConfigPaths.ConfigDirectory, "webhooks");

    /// <summary>A stable name for a URL: its host and a short hash of the whole URL.</summary>
    public static string NameFor(Uri url)
    {
        var hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(url.AbsoluteUri)))[..10].ToLowerInvariant();
        var host = new string(url.Host.Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' ? c : '_').ToArray());
        return $"{host}-{hash}";
    }

    /// <summary>What may be shown of a URL: scheme and host.</summary>
    public static string Describe(Uri url) => $"{url.Scheme}://{url.Host}";

    /// <summary>Stores the URL (mode 600, written to a temporary name, then renamed) and returns its name.</summary>
    public static string Save(Uri url)
    {
        if (url.Scheme is not ("https" or "http"))
            throw new RgtException("WebhookInvalid", FailureKind.InvalidArgument, $"A webhook must be an http(s) URL, not {url.Scheme}:.");
        var name = NameFor(url);
        System.IO.Directory.CreateDirectory(Directory);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var path = Path.Combine(Directory, name);
        var temp = path + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var w = new StreamWriter(temp, Encoding.UTF8, options)) w.Write(url.AbsoluteUri);
        File.Move(temp, path, overwrite: true);
        return name;
    }

    public static Uri Load(string name)
    {
        if (name.Length == 0 || name.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_')))
            throw new RgtException("WebhookInvalid", FailureKind.InvalidArgument, $"'{name}' is not a webhook name (Register-GpuPatrol -Notify stores one and prints its name).");
        var path = Path.Combine(Directory, name);
        if (!File.Exists(path))
            throw new RgtException("WebhookNotFound", FailureKind.NotFound, $"No webhook named '{name}' is stored in {Directory}; register the patrol again with -Notify <url>.");
        return Uri.TryCreate(File.ReadAllText(path).Trim(), UriKind.Absolute, out var url)
            ? url
            : throw new RgtException("WebhookInvalid", FailureKind.InvalidData, $"The webhook file {path} does not hold a URL.");
    }

    /// <summary>
    /// Posts the patrol's reports to the webhook as JSON (15 s at most). Returns what to warn about —
    /// an answer that is no success, a URL that cannot be reached — with the URL shown as its scheme
    /// and host only (its path holds the token); null when the post was taken.
    /// </summary>
    public static async Task<string?> PostAsync(Uri url, IReadOnlyList<Model.GpuPatrolReport> reports, CancellationToken ct)
    {
        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(15) };
            var body = System.Text.Json.JsonSerializer.Serialize(reports);
            using var response = await http.PostAsync(url, new StringContent(body, System.Text.Encoding.UTF8, "application/json"), ct).ConfigureAwait(false);
            return response.IsSuccessStatusCode ? null : $"The webhook at {Describe(url)} answered {(int)response.StatusCode} {response.ReasonPhrase}.";
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return $"The webhook at {Describe(url)} could not be reached: {Scrub(ex.Message, url)}";
        }
    }

    /// <summary>An exception message may quote the URL; only its scheme and host may be shown.</summary>
    public static string Scrub(string message, Uri url) =>
        message.Replace(url.AbsoluteUri, Describe(url), StringComparison.Ordinal)
            .Replace(url.PathAndQuery, "/…", StringComparison.Ordinal);
}
