namespace RemoteGpuTrainer.Engine.Ssh;

/// <summary>What one remote command returned. ExitCode is null when it was killed by a signal.</summary>
public sealed record CommandOutput(int? ExitCode, string StdOut, string StdErr, TimeSpan Duration, string? Signal);

/// <summary>A shell on a host: over SSH, or the local machine for the "local" platform.</summary>
public interface IHostShell : IDisposable
{
    Task<CommandOutput> RunAsync(string command, TimeSpan timeout, CancellationToken cancellationToken, string? standardInput = null);
}
