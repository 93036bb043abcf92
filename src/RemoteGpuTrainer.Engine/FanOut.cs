using System.Collections.Concurrent;

namespace RemoteGpuTrainer.Engine;

/// <summary>The outcome of one item of a fan-out: a value or a failure.</summary>
public sealed record FanOutResult<TIn, TOut>(TIn Item, TOut? Value, Exception? Error);

/// <summary>
/// Runs one async operation per item with at most <c>throttle</c> at a time and yields each
/// outcome as soon as it completes, so one slow host never delays the others. The caller
/// enumerates on its own thread (the pipeline thread), which is the only one that writes output.
/// </summary>
public static class FanOut
{
    public static IEnumerable<FanOutResult<TIn, TOut>> Run<TIn, TOut>(
        IReadOnlyList<TIn> items, int throttle, Func<TIn, CancellationToken, Task<TOut>> work, CancellationToken cancellationToken,
        Action? onIdle = null, int idleMilliseconds = 250)
    {
        if (items.Count == 0) yield break;
        // Not disposed: a task still finishing after the caller stopped enumerating may touch them.
        var results = new BlockingCollection<FanOutResult<TIn, TOut>>();
        var gate = new SemaphoreSlim(Math.Max(1, throttle));
        int pending = items.Count;
        var started = new List<Task>(items.Count);
        foreach (var item in items)
        {
            started.Add(Task.Run(async () =>
            {
                FanOutResult<TIn, TOut> r;
                try
                {
                    await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
                    try { r = new(item, await work(item, cancellationToken).ConfigureAwait(false), null); }
                    finally { gate.Release(); }
                }
                catch (Exception ex) { r = new(item, default, ex); }
                results.Add(r);
                if (Interlocked.Decrement(ref pending) == 0) results.CompleteAdding();
            }));
        }
        try
        {
            if (onIdle is null)
            {
                foreach (var r in results.GetConsumingEnumerable()) yield return r;
                yield break;
            }
            // The caller's thread wakes up regularly (to write progress) while waiting for results.
            while (!results.IsCompleted)
            {
                if (results.TryTake(out var r, idleMilliseconds)) yield return r;
                else onIdle();
            }
        }
        finally
        {
            // The caller stopped early (Ctrl+C ends the pipeline): the operations are cancelled, and their
            // clean-up (a partial file's bookkeeping, a closed connection) finishes before the caller returns.
            if (!results.IsCompleted) Task.WaitAll(started.ToArray(), DrainTimeout);
        }
    }

    /// <summary>How long a stopped caller waits for cancelled operations to wind down.</summary>
    public static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(15);
}
