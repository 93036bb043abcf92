using System.Text.Json;
using System.Text.RegularExpressions;

namespace RemoteGpuTrainer.Engine.Providers;

/// <summary>
/// Where a provider's API key comes from: the caller's (a SecureString, unwrapped only here), else the
/// environment, else the provider CLI's own key file, so a user who set up the CLI needs nothing more.
/// The key is held as a string only for the request header; it is never logged, stored or put in a message.
/// </summary>
public static class ApiKeys
{
    public sealed record Source(string Key, string From);

    public static string EnvironmentVariable(string provider) =>
        CloudProviders.Find(provider)?.KeyVariable ?? throw new ArgumentException($"unknown provider {provider}", nameof(provider));

    /// <summary>The CLI key files, relative to the home folder, with how the key is written in each (the provider table's).</summary>
    static IReadOnlyList<(string Path, Func<string, string?> Read)> CliFiles(string provider) =>
        CloudProviders.Find(provider)?.KeyFiles ?? Array.Empty<(string, Func<string, string?>)>();

    /// <summary>Whether a key for the provider is set here (environment or CLI key file).</summary>
    public static bool Available(string provider, string home)
    {
        try { Resolve(provider, null, Environment.GetEnvironmentVariable, home); return true; }
        catch (RgtException) { return false; }
    }

    public static Source Resolve(string provider, string? explicitKey, Func<string, string?> environment, string home)
    {
        if (!string.IsNullOrEmpty(explicitKey)) return new Source(explicitKey, "-ApiKey");
        var env = EnvironmentVariable(provider);
        if (environment(env) is { Length: > 0 } fromEnv) return new Source(fromEnv.Trim(), "$env:" + env);
        foreach (var (path, read) in CliFiles(provider))
        {
            var full = Path.Combine(home, path);
            string text;
            try { if (!File.Exists(full)) continue; text = File.ReadAllText(full); }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { continue; }
            if (read(text) is { Length: > 0 } key) return new Source(key, "~/" + path);
        }
        throw new RgtException("ProviderKeyMissing", FailureKind.AuthenticationError,
            $"No API key for {provider}: pass -ApiKey (a SecureString, e.g. from Read-Host -AsSecureString or Get-Secret), or set ${env}" +
            (CliFiles(provider).Any() ? $", or set up the provider's CLI (its key file ~/{CliFiles(provider).First().Path})." : "."));
    }

    internal static string? Whole(string text) => text.Trim() is { Length: > 0 } k && !k.Contains('\n') ? k : null;

    internal static string? Assignment(string text) =>
        Regex.Match(text, @"(?im)^\s*api_?key\s*[:=]\s*[""']?(?<k>[^""'\s]+)[""']?\s*$") is { Success: true } m ? m.Groups["k"].Value : null;

    internal static string? JsonApiKey(string text)
    {
        try { return JsonDocument.Parse(text).RootElement.TryGetProperty("apiKey", out var k) ? k.GetString() : null; }
        catch (JsonException) { return null; }
    }
}
