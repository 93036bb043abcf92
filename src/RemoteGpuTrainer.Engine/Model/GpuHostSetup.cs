namespace RemoteGpuTrainer.Engine.Model;

/// <summary>What Initialize-GpuHost changed on one host.</summary>
public sealed class GpuHostSetup
{
    public string Name { get; init; } = "";
    public string EnvFile { get; init; } = "";
    public string[] Changed { get; init; } = Array.Empty<string>();
    public bool Tmux { get; init; }
    public string[] Notes { get; init; } = Array.Empty<string>();
}
