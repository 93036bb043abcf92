using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.Loader;

namespace RemoteGpuTrainer;

/// <summary>
/// Loads the engine and its dependencies (SSH.NET, YamlDotNet, BouncyCastle, logging abstractions,
/// ScottPlot with SkiaSharp and HarfBuzzSharp) from the module's Dependencies folder into a private
/// load context, so the module works in a session that already loaded another version of any of them
/// (Posh-SSH, powershell-yaml, another module drawing with SkiaSharp, ...). Native libraries those
/// assemblies ask for (libSkiaSharp, libHarfBuzzSharp) come from Dependencies/runtimes/&lt;rid&gt;/native.
/// </summary>
internal sealed class DependencyLoadContext : AssemblyLoadContext
{
    static readonly string DependencyDirectory = Path.Combine(
        Path.GetDirectoryName(typeof(DependencyLoadContext).Assembly.Location)!, "Dependencies");

    static readonly DependencyLoadContext Instance = new();

    DependencyLoadContext() : base("RemoteGpuTrainer.Dependencies", isCollectible: false) { }

    protected override Assembly? Load(AssemblyName assemblyName)
    {
        var path = Path.Combine(DependencyDirectory, assemblyName.Name + ".dll");
        return File.Exists(path) ? LoadFromAssemblyPath(path) : null;
    }

    protected override IntPtr LoadUnmanagedDll(string unmanagedDllName)
    {
        var file = Path.HasExtension(unmanagedDllName) ? unmanagedDllName
            : unmanagedDllName + (OperatingSystem.IsWindows() ? ".dll" : OperatingSystem.IsMacOS() ? ".dylib" : ".so");
        foreach (var rid in RuntimeIds())
        {
            var path = Path.Combine(DependencyDirectory, "runtimes", rid, "native", file);
            if (File.Exists(path)) return LoadUnmanagedDllFromPath(path);
        }
        return IntPtr.Zero;
    }

    static IEnumerable<string> RuntimeIds()
    {
        var arch = System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();
        if (OperatingSystem.IsWindows()) yield return $"win-{arch}";
        else if (OperatingSystem.IsMacOS()) yield return "osx";
        else
        {
            if (Directory.Exists("/lib") && Directory.EnumerateFiles("/lib", "ld-musl-*").Any()) yield return $"linux-musl-{arch}";
            yield return $"linux-{arch}";
        }
    }

    static int _registered;

    /// <summary>
    /// Hooks the default context's resolution of the engine. Runs from Import-Module (OnImport) and,
    /// as a fallback, from the module initializer when code of this assembly first runs.
    /// </summary>
#pragma warning disable CA2255 // a binary module is exactly where a module initializer belongs
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Register()
    {
        if (Interlocked.Exchange(ref _registered, 1) == 1) return;
        Default.Resolving += (_, name) => name.Name == "RemoteGpuTrainer.Engine" ? Instance.LoadFromAssemblyName(name) : null;
    }
}

/// <summary>Called by Import-Module before PowerShell reads any cmdlet's parameter metadata.</summary>
public sealed class ModuleImport : System.Management.Automation.IModuleAssemblyInitializer
{
    public void OnImport()
    {
        DependencyLoadContext.Register();
        StartWarmup();
    }

    // A method of its own: the engine type resolves only after Register hooked its load context.
    [MethodImpl(MethodImplOptions.NoInlining)]
    static void StartWarmup() => Engine.Ssh.ConnectWarmup.Start();
}
