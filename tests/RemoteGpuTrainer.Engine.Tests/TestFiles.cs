using System.Diagnostics;

namespace RemoteGpuTrainer.Engine.Tests;

internal static class TestFiles
{
    public static string Fixture(params string[] parts) => Path.Combine(new[] { AppContext.BaseDirectory, "fixtures" }.Concat(parts).ToArray());

    public static string PlatformsDir => Path.Combine(AppContext.BaseDirectory, "platforms");

    /// <summary>The repository's root: the folder above the test binaries that holds RemoteGpuTrainer.sln.</summary>
    public static string RepoRoot
    {
        get
        {
            for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
                if (File.Exists(Path.Combine(d.FullName, "RemoteGpuTrainer.sln"))) return d.FullName;
            throw new InvalidOperationException($"No RemoteGpuTrainer.sln above {AppContext.BaseDirectory}.");
        }
    }

    public static string TempDir()
    {
        var d = Path.Combine(Path.GetTempPath(), "rgt-xunit-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(d);
        return d;
    }

    /// <summary>Runs a real program and returns its stdout; fails the test on a non-zero exit.</summary>
    public static string Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEnd();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{file} exited {p.ExitCode}: {stderr}");
        return stdout;
    }
}
