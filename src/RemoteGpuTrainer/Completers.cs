using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using RemoteGpuTrainer.Engine.Hosts;

namespace RemoteGpuTrainer;

/// <summary>Tab completion for registered host names.</summary>
public sealed class HostNameCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        IEnumerable<string> names;
        try { names = new HostInventory().Load().Select(h => h.Name); }
        catch (Exception) { yield break; }
        foreach (var n in names.Where(n => n.StartsWith(wordToComplete.Trim('\'', '"'), StringComparison.OrdinalIgnoreCase)))
            yield return new CompletionResult(n);
    }
}

/// <summary>Tab completion for platform names from the catalog.</summary>
public sealed class PlatformNameCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        IEnumerable<string> names;
        try { names = RgtCmdlet.LoadCatalog().All.Select(p => p.Name); }
        catch (Exception) { yield break; }
        foreach (var n in names.Where(n => n.StartsWith(wordToComplete.Trim('\'', '"'), StringComparison.OrdinalIgnoreCase)))
            yield return new CompletionResult(n);
    }
}
