using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using RemoteGpuTrainer.Engine.Hosts;
using RemoteGpuTrainer.Engine.Queues;

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

/// <summary>Tab completion for tags of the inventory's hosts.</summary>
public sealed class TagCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        IEnumerable<string> tags;
        try { tags = new HostInventory().Load().SelectMany(h => h.Tags).Distinct(StringComparer.OrdinalIgnoreCase).Order(StringComparer.OrdinalIgnoreCase).ToList(); }
        catch (Exception) { yield break; }
        foreach (var t in tags.Where(t => t.StartsWith(wordToComplete.Trim('\'', '"'), StringComparison.OrdinalIgnoreCase)))
            yield return new CompletionResult(Quote(t));
    }

    internal static string Quote(string s) => s.All(c => char.IsLetterOrDigit(c) || c is '-' or '_' or '.') ? s : "'" + s.Replace("'", "''") + "'";
}

/// <summary>
/// Tab completion for queue ids and cells from the last state Get-GpuJob or Start-GpuQueue saw (no
/// SSH per keypress); narrowed by -Name and -QueueId when they are already on the line.
/// </summary>
public sealed class QueueCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var word = wordToComplete.Trim('\'', '"');
        var names = Values(fakeBoundParameters, "Name");
        var queueIds = Values(fakeBoundParameters, parameterName == "Cell" ? "QueueId" : "-");
        var hosts = new QueueCache().Read().Where(h => names.Count == 0 || names.Contains(h.Key, StringComparer.OrdinalIgnoreCase));
        var candidates = parameterName == "Cell"
            ? hosts.SelectMany(h => h.Value).Where(q => queueIds.Count == 0 || queueIds.Contains(q.Key)).SelectMany(q => q.Value)
            : hosts.SelectMany(h => h.Value.Keys);
        foreach (var c in candidates.Distinct().Order(StringComparer.Ordinal).Where(c => c.StartsWith(word, StringComparison.OrdinalIgnoreCase)))
            yield return new CompletionResult(TagCompleter.Quote(c));
    }

    static List<string> Values(IDictionary bound, string key) => bound[key] switch
    {
        string s => new List<string> { s },
        IEnumerable<object> e => e.Select(o => o?.ToString() ?? "").ToList(),
        _ => new List<string>(),
    };
}

/// <summary>Tab completion for one of the engine's vocabularies (its words, as the user types them).</summary>
public abstract class VocabularyCompleter : IArgumentCompleter
{
    protected abstract IEnumerable<string> Words { get; }

    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters) =>
        Words.Where(s => s.StartsWith(wordToComplete.Trim('\'', '"'), StringComparison.OrdinalIgnoreCase)).Select(s => new CompletionResult(s));
}

/// <summary>Accepts the words of one of the engine's vocabularies (any case), and names them all when given another word.</summary>
public abstract class ValidateVocabularyAttribute : ValidateEnumeratedArgumentsAttribute
{
    protected abstract IReadOnlyList<string> Words { get; }

    /// <summary>What a word of the vocabulary is, for the error ("a cell state").</summary>
    protected abstract string What { get; }

    protected override void ValidateElement(object element)
    {
        var text = (element is PSObject p ? p.BaseObject : element)?.ToString() ?? "";
        if (!Words.Contains(text.Trim(), StringComparer.OrdinalIgnoreCase))
            throw new ValidationMetadataException($"'{text}' is not {What}; use one of: {string.Join(", ", Words)}.");
    }
}

/// <summary>Tab completion for cell states (every one Get-GpuJob reports).</summary>
public sealed class CellStateCompleter : VocabularyCompleter
{
    protected override IEnumerable<string> Words => Engine.Model.CellStates.All;
}

/// <summary>Accepts the cell states of <see cref="Engine.Model.CellState"/>.</summary>
public sealed class ValidateCellStateAttribute : ValidateVocabularyAttribute
{
    protected override IReadOnlyList<string> Words => Engine.Model.CellStates.All;
    protected override string What => "a cell state";
}

/// <summary>Tab completion for the cloud providers of the provider table.</summary>
public sealed class ProviderCompleter : VocabularyCompleter
{
    protected override IEnumerable<string> Words => Engine.Providers.CloudProviders.WithOffers;
}

/// <summary>Accepts the providers of the provider table.</summary>
public sealed class ValidateProviderAttribute : ValidateVocabularyAttribute
{
    protected override IReadOnlyList<string> Words => Engine.Providers.CloudProviders.WithOffers;
    protected override string What => "a provider the module drives through its API";
}
