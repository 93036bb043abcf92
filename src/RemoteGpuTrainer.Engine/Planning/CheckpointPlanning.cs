using RemoteGpuTrainer.Engine.Model;

namespace RemoteGpuTrainer.Engine.Planning;

public static class CheckpointPlanner
{
    /// <summary>
    /// W = sqrt(2 · μ · C). With N workers any one failure costs the whole job, so the job's mean time
    /// between failures is μ/N and W = sqrt(2 · μ/N · C) (shorter by √N).
    /// </summary>
    public static CheckpointInterval Interval(TimeSpan mtbf, TimeSpan write, double? secondsPerIteration, int workers, GpuPlatform? platform)
    {
        if (mtbf <= TimeSpan.Zero || write <= TimeSpan.Zero)
            throw new RgtException("IntervalInvalid", FailureKind.InvalidArgument, "The mean time between failures and the checkpoint write time must both be positive.");
        if (workers < 1) throw new RgtException("IntervalInvalid", FailureKind.InvalidArgument, "-Workers must be at least 1.");
        var mu = mtbf.TotalSeconds / workers;
        var w = Math.Sqrt(2 * mu * write.TotalSeconds);
        var seconds = Math.Round(w);
        long? iterations = secondsPerIteration is > 0 ? (long)Math.Floor(seconds / secondsPerIteration.Value) : null;
        var warnings = new List<string>();
        if (write.TotalSeconds * 2 > w) warnings.Add($"a checkpoint write of {write.TotalSeconds:0} s is large against the {w:0} s interval: make saves cheaper (async save, fewer tensors) or expect much lost time.");
        if (platform is not null)
        {
            if (platform.SpotGraceSeconds is { } grace && grace < write.TotalSeconds)
                warnings.Add($"{platform.DisplayName} gives {grace} s between the preemption signal and the kill, shorter than a {write.TotalSeconds:0} s checkpoint write: a save on the signal cannot finish; rely on the periodic checkpoint.");
            else if (platform.SpotAvailable == true && platform.SpotGraceSeconds is null)
                warnings.Add($"{platform.DisplayName} does not state a preemption grace period; assume none.");
        }
        return new CheckpointInterval
        {
            Interval = TimeSpan.FromSeconds(seconds), Iterations = iterations, SuggestedIterations = iterations is null ? null : Tidy(iterations.Value),
            MeanTimeBetweenFailures = mtbf, CheckpointWriteTime = write, Workers = workers,
            Formula = workers == 1
                ? $"W = sqrt(2 * {mtbf.TotalSeconds:0} s * {write.TotalSeconds:0.###} s) = {w:0.0} s"
                : $"W = sqrt(2 * ({mtbf.TotalSeconds:0} s / {workers} workers) * {write.TotalSeconds:0.###} s) = {w:0.0} s",
            Warnings = warnings.ToArray(),
        };
    }

    static long Tidy(long n)
    {
        if (n < 100) return n;
        var magnitude = (long)Math.Pow(10, Math.Floor(Math.Log10(n)) - 1);
        return n / magnitude * magnitude;
    }
}
