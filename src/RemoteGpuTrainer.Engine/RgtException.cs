namespace RemoteGpuTrainer.Engine;

/// <summary>The broad kind of a failure; the cmdlets map it to a PowerShell ErrorCategory.</summary>
public enum FailureKind
{
    InvalidArgument,
    InvalidData,
    NotFound,
    ConnectionError,
    Timeout,
    AuthenticationError,
    SecurityError,
    ResourceBusy,
    OperationFailed,
}

/// <summary>
/// A failure with a stable <see cref="ErrorId"/> (part of the module's contract: users and tests
/// match on it) and a message a person can act on. Messages never contain secrets.
/// </summary>
public class RgtException : Exception
{
    public RgtException(string errorId, FailureKind kind, string message, Exception? inner = null)
        : base(message, inner)
    {
        ErrorId = errorId;
        Kind = kind;
    }

    public string ErrorId { get; }
    public FailureKind Kind { get; }
}
