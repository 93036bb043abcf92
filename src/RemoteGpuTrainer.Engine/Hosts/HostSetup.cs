using RemoteGpuTrainer.Engine.Model;

namespace RemoteGpuTrainer.Engine.Hosts;

/// <summary>
/// The environment file queue launchers source before each cell: caches on the data disk, mirrors
/// behind the GFW, no_proxy exemptions only when a proxy is set. Written only when its content
/// changes, so a second run changes nothing.
/// </summary>
public static class HostSetup
{
    public static string EnvPath(GpuHost host) => host.DataDir!.TrimEnd('/') + "/.rgt/env.sh";

    public static string EnvContent(GpuHost host, bool chinaMirror) =>
        Scripts.BoxScript.Load("host-env").Set("RGT_ENV_DATA", host.DataDir!.TrimEnd('/')).Set("RGT_ENV_CHINA_MIRROR", chinaMirror ? "1" : "0").Text;

    public static string Script(GpuHost host, bool chinaMirror, bool installTmux) =>
        Scripts.BoxScript.Load("host-setup")
            .Set("ENV_FILE", EnvPath(host)).Set("ENV_CONTENT", EnvContent(host, chinaMirror)).Set("INSTALL_TMUX", installTmux ? "1" : "0").Command;

    /// <summary>What the box did; a failed script (the file could not be written) is an error, never "unchanged".</summary>
    public static GpuHostSetup Parse(GpuHost host, string output)
    {
        var s = Parsing.ProbeSections.Parse(output);
        if (s.ExitCode("setup") != 0)
            throw new RgtException("HostSetupFailed", FailureKind.OperationFailed,
                $"{host.Name}: the environment file {EnvPath(host)} was not written (status {s.ExitCode("setup")?.ToString() ?? "none"}): {s["setup"].Trim()}");
        var records = s["setup"].Split('\n').Select(l => l.Split('\t', 2)).Where(f => f.Length == 2).ToList();
        return new GpuHostSetup
        {
            Name = host.Name, EnvFile = EnvPath(host),
            Changed = records.Where(f => f[0] == "CHANGED").Select(f => f[1]).ToArray(),
            Tmux = records.Any(f => f[0] == "TMUX"),
            Notes = records.Where(f => f[0] == "NOTE").Select(f => f[1]).ToArray(),
        };
    }
}
