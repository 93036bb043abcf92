using System.Text;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Text;

namespace RemoteGpuTrainer.Engine.Rentals;

/// <summary>What Initialize-GpuHost changed on one host.</summary>
public sealed class GpuHostSetup
{
    public string Name { get; init; } = "";
    public string EnvFile { get; init; } = "";
    public string[] Changed { get; init; } = Array.Empty<string>();
    public bool Tmux { get; init; }
    public string[] Notes { get; init; } = Array.Empty<string>();
}

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

    public static string Script(GpuHost host, bool chinaMirror, bool installTmux)
    {
        var delimiter = "RGT_ENV_" + Guid.NewGuid().ToString("N");
        var f = ShellQuote.QuotePath(EnvPath(host));
        var sb = new StringBuilder("export LC_ALL=C\n");
        sb.Append($"f={f}; mkdir -p \"$(dirname \"$f\")\" \"$(dirname \"$f\")/../huggingface_cache\"\n");
        sb.Append($"cat > \"$f.new\" <<'{delimiter}'\n").Append(EnvContent(host, chinaMirror)).Append($"{delimiter}\n");
        sb.Append("if [ -f \"$f\" ] && cmp -s \"$f\" \"$f.new\"; then rm -f \"$f.new\"; else mv -f \"$f.new\" \"$f\"; echo 'RGT_CHANGED env-file'; fi\n");
        if (installTmux)
        {
            sb.Append("if command -v tmux >/dev/null 2>&1; then echo 'RGT_TMUX present';\n");
            sb.Append("elif [ \"$(id -u)\" = 0 ] && command -v apt-get >/dev/null 2>&1; then ");
            sb.Append("if timeout 300 apt-get install -y -q tmux >/dev/null 2>&1 || { timeout 300 apt-get update -q >/dev/null 2>&1 && timeout 300 apt-get install -y -q tmux >/dev/null 2>&1; }; then echo 'RGT_CHANGED tmux-installed'; echo 'RGT_TMUX present'; ");
            sb.Append("else echo 'RGT_NOTE apt-get could not install tmux (no egress? on AutoDL: source /etc/network_turbo first); queues will use setsid nohup'; fi;\n");
            sb.Append("else echo 'RGT_NOTE tmux is missing and cannot be installed without root and apt-get; queues will use setsid nohup'; fi\n");
        }
        else sb.Append("command -v tmux >/dev/null 2>&1 && echo 'RGT_TMUX present'\n");
        return sb.ToString();
    }

    public static GpuHostSetup Parse(GpuHost host, string output)
    {
        var lines = output.Split('\n').Select(l => l.Trim()).ToList();
        return new GpuHostSetup
        {
            Name = host.Name, EnvFile = EnvPath(host),
            Changed = lines.Where(l => l.StartsWith("RGT_CHANGED ", StringComparison.Ordinal)).Select(l => l[12..]).ToArray(),
            Tmux = lines.Contains("RGT_TMUX present"),
            Notes = lines.Where(l => l.StartsWith("RGT_NOTE ", StringComparison.Ordinal)).Select(l => l[9..]).ToArray(),
        };
    }
}
