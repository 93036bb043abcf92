using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Parsing;
using RemoteGpuTrainer.Engine.Scripts;

namespace RemoteGpuTrainer.Engine.Probes;

/// <summary>The Test-GpuHost probe: one script, one round trip, parsed locally.</summary>
public static class HostTestProbe
{
    /// <summary>The script run on the box (host-test.sh, disks.sh). Read-only; every tool is optional.</summary>
    public static string Script(GpuHost host) =>
        BoxScript.Load("host-test", "disks").Set("PYTHON", host.Python).Set("DATA_DIR", host.DataDir).Set("DURABLE_DIR", host.DurableDir).Command;

    public static GpuHostTest Parse(GpuHost host, string output, string fingerprint, TimeSpan latency, DateTimeOffset checkedAt)
    {
        var s = ProbeSections.Parse(output);
        var findings = new List<string>();
        var osLines = s["os"].Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var os = osLines.Length switch { 0 => null, 1 => osLines[0], _ => $"{osLines[0]} (kernel {osLines[1]})" };

        var smiText = s["nvidia-smi"];
        var smi = NvidiaSmiTable.Parse(smiText);
        if (s.ExitCode("nvidia-smi") == Scripts.BoxExit.NoCommand)
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
            var name = "df-" + label;
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
            DataDirCheck = Dir("data", host.DataDir),
            DurableDirCheck = Dir("durable", host.DurableDir),
            Findings = findings.ToArray(),
            Uptime = s.ExitCode("uptime") == 0 && double.TryParse(s["uptime"].Trim(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var up)
                ? TimeSpan.FromSeconds(up) : null,
            CheckedAt = checkedAt,
        };
    }

    static string FirstLine(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault()?.Trim() ?? "(no output)";
}
