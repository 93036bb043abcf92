namespace RemoteGpuTrainer.Engine.Transfers;

/// <summary>
/// Joins names that came from a box (a listing, a cell name) to a local destination, refusing any
/// that would land outside it: a hostile or compromised box must not be able to write elsewhere.
/// </summary>
public static class LocalPaths
{
    static readonly HashSet<string> WindowsReserved = new(StringComparer.OrdinalIgnoreCase)
    {
        "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9",
        "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
    };

    /// <summary>The local path for <paramref name="relative"/> ('/'-separated) under <paramref name="destination"/>, or UnsafeRemotePath.</summary>
    public static string Under(string destination, string relative, string hostName, bool windows)
    {
        string Refuse(string why) => throw new RgtException("UnsafeRemotePath", FailureKind.SecurityError,
            $"{hostName}: the box listed '{relative.Replace("\n", "\\n")}', which {why}; refusing to write it outside {destination}. Nothing of this listing was written.");
        if (relative.Length == 0) Refuse("is empty");
        if (relative.StartsWith('/')) Refuse("is absolute");
        if (relative.Contains('\0')) Refuse("holds a NUL");
        if (windows && (relative.Contains('\\') || relative.Contains(':'))) Refuse("holds '\\' or ':', which Windows reads as a path");
        foreach (var segment in relative.Split('/'))
        {
            if (segment is "" or "." or "..") Refuse($"has a '{segment}' segment");
            if (windows && (WindowsReserved.Contains(segment.Split('.')[0]) || segment.EndsWith('.') || segment.EndsWith(' ')))
                Refuse($"uses '{segment}', a name Windows reserves");
        }
        var root = Path.GetFullPath(destination);
        var full = Path.GetFullPath(Path.Combine(root, relative.Replace('/', Path.DirectorySeparatorChar)));
        var prefix = root.EndsWith(Path.DirectorySeparatorChar) ? root : root + Path.DirectorySeparatorChar;
        if (!full.StartsWith(prefix, OperatingSystem.IsWindows() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal)) Refuse("resolves outside the destination");
        return full;
    }

    public static string Under(string destination, string relative, string hostName) => Under(destination, relative, hostName, OperatingSystem.IsWindows());
}
