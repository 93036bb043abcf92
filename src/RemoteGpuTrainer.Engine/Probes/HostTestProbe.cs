using System.Text;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Parsing;
using RemoteGpuTrainer.Engine.Text;

namespace RemoteGpuTrainer.Engine.Probes;

/// <summary>The Test-GpuHost probe: one script, one round trip, parsed locally.</summary>
public static class HostTestProbe
{
    /// <summary>The shell script run on the box. Read-only; every tool is optional.</summary>
    public static string Script(GpuHost host)
    {
        var sb = new StringBuilder();
        sb.Append("export LC_ALL=C; t() { if command -v timeout >/dev/null 2>&1; then timeout 20 \"$@\"; else \"$@\"; fi; }\n");
        sb.Append(ProbeSections.Emit("os", "if [ -r /etc/os-release ]; then . /etc/os-release; echo \"${PRETTY_NAME:-$NAME}\"; else uname -s; fi; uname -r"));
        sb.Append(ProbeSections.Emit("nvidia-smi", "if command -v nvidia-smi >/dev/null 2>&1; then t nvidia-smi; else echo 'nvidia-smi: command not found'; exit 127; fi"));
        var pythons = new List<string>();
        if (!string.IsNullOrEmpty(host.Python)) pythons.Add(ShellQuote.QuotePath(host.Python));
        pythons.AddRange(new[] { "python3", "python" });
        sb.Append(ProbeSections.Emit("python", $"for p in {string.Join(' ', pythons)}; do if command -v \"$p\" >/dev/null 2>&1; then \"$p\" -V 2>&1; exit 0; fi; done; exit 127"));
        sb.Append(ProbeSections.Emit("tmux", "command -v tmux"));
        foreach (var (label, dir) in new[] { ("data", host.DataDir), ("durable", host.DurableDir) })
        {
            if (string.IsNullOrEmpty(dir)) continue;
            sb.Append(ProbeSections.Emit("dir-" + label, DfParser.Command(dir)));
        }
        return sb.ToString();
    }

    public static GpuHostTest Parse(GpuHost host, string output, string fingerprint, TimeSpan latency, DateTimeOffset checkedAt)
    {
        var s = ProbeSections.Parse(output);
        var findings = new List<string>();
        var osLines = s["os"].Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var os = osLines.Length switch { 0 => null, 1 => osLines[0], _ => $"{osLines[0]} (kernel {osLines[1]})" };

        var smiText = s["nvidia-smi"];
        var smi = NvidiaSmiTable.Parse(smiText);
        if (s.ExitCode("nvidia-smi") == 127)
            findings.Add("driver: nvidia-smi is not on the PATH; no NVIDIA driver is visible. Stop this instance and rent a box with a working GPU driver.");
        else if (smi is null || s.ExitCode("nvidia-smi") is not 0)
            findings.Add($"driver: nvidia-smi failed: {FirstLine(smiText)} Stop this instance and rent a different box.");
        else if (smi.GpuNames.Count == 0)
            findings.Add("driver: nvidia-smi lists no GPUs.");

        var pyText = s["python"];
        var python = s.ExitCode("python") == 0 ? FirstLine(pyText) : null;
        if (python is null) findings.Add("python: no python3 or python on the PATH (AutoDL images may only have /root/miniconda3/bin/python; set -Python with Set-GpuHost).");
        var tmux = s.ExitCode("tmux") == 0;
        if (!tmux) findings.Add("tmux: not installed; queues will detach with setsid nohup instead (Initialize-GpuHost -InstallTmux adds it).");

        GpuDirectoryCheck? Dir(string label, string? path)
        {
            if (string.IsNullOrEmpty(path)) return null;
            var name = "dir-" + label;
            if (s.ExitCode(name) != 0)
            {
                findings.Add($"{label} dir: {path} does not exist on the box (set it with Set-GpuHost -{(label == "data" ? "DataDir" : "DurableDir")}).");
                return new GpuDirectoryCheck(path, false, null, null, null, null, null);
            }
            var text = s[name];
            var (bytes, inodes) = DfParser.BytesAndInodes(text);
            var check = new GpuDirectoryCheck(path, true, bytes?.Available, bytes?.Total, inodes?.Available, inodes?.Total, bytes?.MountedOn);
            if (bytes?.UsePercent >= 95 || inodes?.UsePercent >= 95)
                findings.Add($"{label} dir: {path} is {Math.Max(bytes?.UsePercent ?? 0, inodes?.UsePercent ?? 0)}% full (bytes {bytes?.UsePercent}%, inodes {inodes?.UsePercent}%); free space before training.");
            return check;
        }

        return new GpuHostTest
        {
            Name = host.Name,
            Reachable = true,
            HostKeyFingerprint = fingerprint,
            Latency = latency,
            OS = os,
            GpuCount = smi?.GpuNames.Count ?? 0,
            GpuNames = smi?.GpuNames.ToArray() ?? Array.Empty<string>(),
            Driver = smi?.Driver,
            CudaVersion = smi?.CudaVersion,
            Python = python,
            Tmux = tmux,
            DataDir = Dir("data", host.DataDir),
            DurableDir = Dir("durable", host.DurableDir),
            Findings = findings.ToArray(),
            CheckedAt = checkedAt,
        };
    }

    static string FirstLine(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault()?.Trim() ?? "(no output)";
}
