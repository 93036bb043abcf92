using System.Collections;

namespace RemoteGpuTrainer.Engine.Model;

/// <summary>
/// A host's tags: a list of strings to PowerShell (-contains, Where-Object, ConvertTo-Json give an
/// array), and joined with commas as text, so Export-Csv writes "sweep,a100", not System.String[].
/// </summary>
public sealed class TagSet : IReadOnlyList<string>
{
    readonly string[] _tags;

    public TagSet(IEnumerable<string> tags) => _tags = tags.ToArray();

    public static readonly TagSet Empty = new(Array.Empty<string>());

    public static implicit operator TagSet(string[] tags) => new(tags);

    public int Count => _tags.Length;
    public string this[int index] => _tags[index];
    public IEnumerator<string> GetEnumerator() => ((IEnumerable<string>)_tags).GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => _tags.GetEnumerator();
    public override string ToString() => string.Join(",", _tags);
}
