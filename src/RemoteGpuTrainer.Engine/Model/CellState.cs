namespace RemoteGpuTrainer.Engine.Model;

/// <summary>
/// Every state a queue cell is reported in (GpuJob.State). The box writes the first seven into a
/// cell's state marker; the scheduler's view adds Requeued, Suspended and Unknown; the local side
/// adds Stale (nobody will record the result) and Preempted (the provider took the rental back).
/// </summary>
public enum CellState
{
    Pending, Running, Succeeded, Failed, NoArtifact, SyncFailed, Cancelled, Interrupted,
    Requeued, Suspended, Unknown, Stale, Preempted,
}

/// <summary>The cell states as the text a user types and reads, and what they mean.</summary>
public static class CellStates
{
    /// <summary>Every state, in the order of <see cref="CellState"/>.</summary>
    public static readonly IReadOnlyList<string> All = Enum.GetNames<CellState>();

    /// <summary>A state the box recorded as the cell's end (its markers say so; the scheduler's view no longer matters).</summary>
    public static bool EndedOnTheBox(string state) => state is nameof(CellState.Succeeded) or nameof(CellState.Failed) or nameof(CellState.NoArtifact)
        or nameof(CellState.SyncFailed) or nameof(CellState.Cancelled);

    /// <summary>A state that no longer changes by itself: the cell ended, or nobody will record its end.</summary>
    public static bool IsFinal(string state) => EndedOnTheBox(state) || state == nameof(CellState.Stale);

    /// <summary>The state as spelled in <see cref="All"/>, whatever its case; null when it is none.</summary>
    public static string? Canonical(string text) => All.FirstOrDefault(s => string.Equals(s, text?.Trim(), StringComparison.OrdinalIgnoreCase));
}
