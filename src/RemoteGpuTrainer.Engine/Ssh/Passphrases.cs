using System.Collections.Concurrent;

namespace RemoteGpuTrainer.Engine.Ssh;

/// <summary>
/// The passphrases of this session's identity files, once given: kept in this process's memory only
/// (never on disk, never in a log), so a session is asked once per key.
/// </summary>
public static class Passphrases
{
    static readonly ConcurrentDictionary<string, string> Given = new(StringComparer.Ordinal);

    public static string? Get(string file) => Given.TryGetValue(Path.GetFullPath(file), out var p) ? p : null;

    internal static void Keep(string file, string passphrase) => Given[Path.GetFullPath(file)] = passphrase;

    public static void Forget(string file) => Given.TryRemove(Path.GetFullPath(file), out _);
}
