namespace RemoteGpuTrainer.Engine;

/// <summary>Where local state lives: the config directory and the user's ~/.ssh.</summary>
public static class ConfigPaths
{
    /// <summary>$RGT_HOME, else $XDG_CONFIG_HOME/RemoteGpuTrainer, else the platform config folder.</summary>
    public static string ConfigDirectory
    {
        get
        {
            var explicitHome = Environment.GetEnvironmentVariable("RGT_HOME");
            if (!string.IsNullOrEmpty(explicitHome)) return Path.GetFullPath(explicitHome);
            var xdg = Environment.GetEnvironmentVariable("XDG_CONFIG_HOME");
            if (!string.IsNullOrEmpty(xdg)) return Path.Combine(xdg, "RemoteGpuTrainer");
            if (OperatingSystem.IsWindows())
                return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.ApplicationData), "RemoteGpuTrainer");
            return Path.Combine(HomeDirectory, ".config", "RemoteGpuTrainer");
        }
    }

    /// <summary>The user's home, read from HOME each time (tests and the demo point it at a temp folder).</summary>
    public static string HomeDirectory
    {
        get
        {
            var home = Environment.GetEnvironmentVariable(OperatingSystem.IsWindows() ? "USERPROFILE" : "HOME");
            return string.IsNullOrEmpty(home) ? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile) : home;
        }
    }

    public static string SshDirectory => Path.Combine(HomeDirectory, ".ssh");

    /// <summary>Expands a leading ~ to the home directory.</summary>
    public static string ExpandHome(string path)
    {
        if (path == "~") return HomeDirectory;
        if (path.StartsWith("~/", StringComparison.Ordinal) || path.StartsWith("~\\", StringComparison.Ordinal))
            return Path.Combine(HomeDirectory, path.Substring(2));
        return path;
    }
}
