using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.Loader;

namespace RemoteGpuTrainer;

/// <summary>
/// Loads the engine and its dependencies (SSH.NET, YamlDotNet, BouncyCastle, logging abstractions)
/// from the module's Dependencies folder into a private load context, so the module works in a
/// session that already loaded another version of any of them (Posh-SSH, powershell-yaml, ...).
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
    public void OnImport() => DependencyLoadContext.Register();
}
