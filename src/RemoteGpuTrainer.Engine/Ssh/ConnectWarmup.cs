using System.Reflection;
using System.Runtime.CompilerServices;

namespace RemoteGpuTrainer.Engine.Ssh;

/// <summary>
/// Compiles the code a first connection runs (SSH.NET's handshake, key exchange, ciphers and messages,
/// and this namespace) on a low-priority background thread right after Import-Module, so the session's
/// first cmdlet does not wait on the JIT for it (about half of a first connection's time on loopback).
/// </summary>
public static class ConnectWarmup
{
    static int _started;

    /// <summary>Starts the warm-up once per process; RGT_NO_WARMUP=1 turns it off.</summary>
    public static void Start()
    {
        if (Environment.GetEnvironmentVariable("RGT_NO_WARMUP") == "1" || Interlocked.Exchange(ref _started, 1) == 1) return;
        new Thread(Run) { IsBackground = true, Priority = ThreadPriority.BelowNormal, Name = "rgt-connect-warmup" }.Start();
    }

    /// <summary>How many methods the warm-up compiled, and how long it took (for the benchmark's notes).</summary>
    public static (int Methods, TimeSpan Took) Done { get; private set; }

    static void Run()
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var count = Compile();
        Done = (count, sw.Elapsed);
    }

    /// <summary>Compiles the connection path now, on the caller's thread; returns how many methods.</summary>
    public static int Compile()
    {
        var count = 0;
        var assemblies = new[] { typeof(Renci.SshNet.SshClient).Assembly, typeof(ConnectWarmup).Assembly, typeof(Org.BouncyCastle.Math.EC.Rfc7748.X25519).Assembly };
        foreach (var assembly in assemblies)
        {
            Type[] types;
            try { types = assembly.GetTypes(); }
            catch (ReflectionTypeLoadException ex) { types = ex.Types.Where(t => t is not null).ToArray()!; }
            foreach (var type in types)
            {
                if (type.ContainsGenericParameters || !InPath(type)) continue;
                try { RuntimeHelpers.RunClassConstructor(type.TypeHandle); }
                catch (Exception) { }
                foreach (var m in type.GetMethods(BindingFlags.DeclaredOnly | BindingFlags.Instance | BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic)
                    .Cast<MethodBase>().Concat(type.GetConstructors(BindingFlags.DeclaredOnly | BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)))
                {
                    if (m.IsAbstract || m.ContainsGenericParameters || m.GetMethodBody() is null) continue;
                    try { RuntimeHelpers.PrepareMethod(m.MethodHandle); count++; }
                    catch (Exception) { }
                }
            }
        }
        return count;
    }

    // The key exchanges SSH.NET offers first (sntrup761x25519, mlkem768x25519, curve25519) and the ed25519 host key check run in BouncyCastle.
    static readonly string[] BouncyCastleInPath = { "Org.BouncyCastle.Pqc.Crypto.NtruPrime", "Org.BouncyCastle.Pqc.Crypto.MLKem", "Org.BouncyCastle.Math.EC.Rfc7748", "Org.BouncyCastle.Math.EC.Rfc8032", "Org.BouncyCastle.Math.Raw" };

    static bool InPath(Type type)
    {
        var ns = type.Namespace ?? "";
        return ns.StartsWith("Renci.SshNet", StringComparison.Ordinal) && !ns.Contains("Sftp", StringComparison.Ordinal) && !ns.Contains("Scp", StringComparison.Ordinal)
            || ns == typeof(ConnectWarmup).Namespace || BouncyCastleInPath.Contains(ns);
    }
}
