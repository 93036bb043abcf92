using RemoteGpuTrainer.Engine.Model;
using System.Globalization;
using System.Text.Json;

namespace RemoteGpuTrainer.Engine.Checkpoints;

/// <summary>Checks cell folders (the keepable artifact plus metrics) and plain checkpoint files.</summary>
public static class CheckpointFolders
{
    static readonly string[] CheckpointExtensions = { ".pt", ".pth", ".ckpt", ".bin", ".safetensors", ".pkl", ".tar", ".zip" };
    static readonly string[] MetricPreference = { "psnr", "mAP50", "map50", "dice", "loss" };

    public static bool IsCheckpointFile(string path) => CheckpointExtensions.Any(e => path.EndsWith(e, StringComparison.OrdinalIgnoreCase));

    /// <summary>The cell folders under a path: the path itself when it holds the artifact, else its subfolders.</summary>
    public static (List<string> CellFolders, List<string> LooseFiles) Discover(string path, string artifact)
    {
        if (File.Exists(path)) return (new(), new() { path });
        if (!Directory.Exists(path)) throw new RgtException("PathNotFound", FailureKind.NotFound, $"{path} does not exist.");
        if (File.Exists(Path.Combine(path, artifact))) return (new() { path }, new());
        var dirs = Directory.GetDirectories(path).Where(d => !Path.GetFileName(d).StartsWith('.')).Order(StringComparer.Ordinal).ToList();
        if (dirs.Count > 0) return (dirs, new());
        var files = Directory.GetFiles(path).Where(IsCheckpointFile).Order(StringComparer.Ordinal).ToList();
        return (new(), files);
    }

    public static CheckpointVerification VerifyCell(string folder, string artifact, string metricsFile, TrustOptions trust)
    {
        var name = Path.GetFileName(folder.TrimEnd(Path.DirectorySeparatorChar));
        var file = Path.Combine(folder, artifact);
        if (!File.Exists(file))
            return new CheckpointVerification { Cell = name, Path = folder, Status = "Failed", Reason = $"the keepable artifact {artifact} is missing from this cell folder" };
        var v = CheckpointVerifier.VerifyFile(file, trust, name);
        var metricsPath = Path.Combine(folder, metricsFile);
        string? metricName = null; double? metric = null; long? epoch = v.Epoch;
        string? reason = v.Reason; var status = v.Status;
        if (File.Exists(metricsPath))
        {
            try
            {
                using var doc = JsonDocument.Parse(File.ReadAllText(metricsPath));
                if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new JsonException("not a JSON object");
                foreach (var key in MetricPreference)
                    if (doc.RootElement.TryGetProperty(key, out var m) && m.ValueKind == JsonValueKind.Number) { metricName = key; metric = m.GetDouble(); break; }
                if (doc.RootElement.TryGetProperty("epoch", out var e) && e.ValueKind == JsonValueKind.Number) epoch ??= e.GetInt64();
            }
            catch (JsonException ex)
            {
                status = "Failed";
                reason = (reason is null ? "" : reason + " ") + $"{metricsFile} is not valid JSON: {ex.Message}";
            }
        }
        return new CheckpointVerification
        {
            Cell = name, Path = file, Status = status, Reason = reason, Format = v.Format, SafetyLevel = v.SafetyLevel, Globals = v.Globals,
            UnsafeGlobals = v.UnsafeGlobals, WeightsKey = v.WeightsKey, Epoch = epoch, MetricName = metricName, Metric = metric,
            Sha256 = v.Sha256, Length = v.Length,
        };
    }
}
