using RemoteGpuTrainer.Engine.Ssh;
using Xunit;

namespace RemoteGpuTrainer.Engine.Tests;

/// <summary>The connection path compiled ahead of the first connection.</summary>
public class ConnectWarmupTests
{
    [Fact]
    public void The_warm_up_compiles_the_handshake_and_key_exchange_code_without_failing()
    {
        // Thousands of methods: SSH.NET's session, key exchanges and messages, the engine's SSH code, BouncyCastle's sntrup761/X25519/ed25519.
        Assert.InRange(ConnectWarmup.Compile(), 3000, 20000);
    }
}
