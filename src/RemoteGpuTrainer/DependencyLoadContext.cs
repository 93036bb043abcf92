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

    /// <summary>Runs when this assembly loads, before any cmdlet type touches the engine.</summary>
#pragma warning disable CA2255 // a binary module is exactly where a module initializer belongs
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Register() => Default.Resolving += (_, name) =>
        name.Name == "RemoteGpuTrainer.Engine" ? Instance.LoadFromAssemblyName(name) : null;
}
