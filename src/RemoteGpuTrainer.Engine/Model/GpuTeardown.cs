namespace RemoteGpuTrainer.Engine.Model;

/// <summary>What a teardown did, or what the user must do in the console.</summary>
public sealed class GpuTeardown
{
    public string Name { get; init; } = "";
    public string Platform { get; init; } = "";
    /// <summary>Stop (reversible where the platform has it) or Release (destroys the instance).</summary>
    public string Action { get; init; } = "";
    /// <summary>The platform's verb for that action, e.g. 关机, 释放, terminate.</summary>
    public string Verb { get; init; } = "";
    public bool Irreversible { get; init; }
    public bool Verified { get; init; }
    public int CellsVerified { get; init; }
    public int CellsTotal { get; init; }
    /// <summary>ActionRequired (an SSH rental: do it in the console), or Stopped/Terminated as the provider reports after its API did it.</summary>
    public string Status { get; init; } = "";
    public string Instructions { get; init; } = "";
    /// <summary>For a rental created through a provider's API: the state the provider reports after the stop or terminate.</summary>
    public string? ProviderState { get; init; }
    public bool HostRemoved { get; init; }
}
