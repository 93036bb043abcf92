namespace RemoteGpuTrainer.Engine.Model;

/// <summary>What Initialize-GpuHost changed on one host.</summary>
public sealed class GpuHostSetup
{
    public string Name { get; init; } = "";
    public string EnvFile { get; init; } = "";
    public Listed<string> Changed { get; init; } = Listed<string>.Empty;
    public bool Tmux { get; init; }
    public Listed<string> Notes { get; init; } = Listed<string>.Empty;
}
