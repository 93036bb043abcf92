using System.Text;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Text;

namespace RemoteGpuTrainer.Engine.Rentals;

/// <summary>
/// The environment file queue launchers source before each cell: caches on the data disk, mirrors
/// behind the GFW, no_proxy exemptions only when a proxy is set. Written only when its content
/// changes, so a second run changes nothing.
/// </summary>
public static class HostSetup
{
    public const string ChinaPipIndex = "https://pypi.tuna.tsinghua.edu.cn/simple";
    public const string ChinaHfEndpoint = "https://hf-mirror.com";

    public static string EnvPath(GpuHost host) => host.DataDir!.TrimEnd('/') + "/.rgt/env.sh";

    public static string EnvContent(GpuHost host, bool chinaMirror)
    {
        var data = host.DataDir!.TrimEnd('/');
        var sb = new StringBuilder("# Written by Initialize-GpuHost; sourced by RemoteGpuTrainer queue launchers before each cell.\n");
        sb.Append($"export HF_HOME={ShellQuote.QuotePath(data + "/huggingface_cache")}\n");
        sb.Append($"export PIP_CACHE_DIR={ShellQuote.QuotePath(data + "/.cache/pip")}\n");
        if (chinaMirror)
        {
            sb.Append($"export HF_ENDPOINT={ChinaHfEndpoint}\nexport HF_HUB_DISABLE_XET=1\nexport PIP_INDEX_URL={ChinaPipIndex}\n");
        }
        sb.Append("if [ -n \"${http_proxy:-}${https_proxy:-}${HTTP_PROXY:-}${HTTPS_PROXY:-}\" ]; then\n");
        sb.Append("  export no_proxy=\"localhost,127.0.0.1,::1${no_proxy:+,$no_proxy}\"; export NO_PROXY=\"$no_proxy\"\nfi\n");
        return sb.ToString();
    }

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
