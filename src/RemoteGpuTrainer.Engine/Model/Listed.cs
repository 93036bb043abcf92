using System.Collections;

namespace RemoteGpuTrainer.Engine.Model;

/// <summary>
/// A list on an output object: a list to PowerShell (indexing, -contains, Where-Object and ConvertTo-Json
/// see its items) and one readable line as text, so Export-Csv writes "GPU0 H100 …; GPU1 …" instead of a type
/// name. The line is the items' own text joined with "; ", or a summary given by the owning type. It is a
/// read-only <see cref="IList"/> as well, so PowerShell judges it as it judges an array: an empty one is
/// false (Where-Object Zombie keeps only hosts with zombies).
/// </summary>
public class Listed<T> : IReadOnlyList<T>, IList
{
    readonly T[] _items;
    readonly Func<IReadOnlyList<T>, string>? _text;

    public Listed(IEnumerable<T> items, Func<IReadOnlyList<T>, string>? text = null)
    {
        _items = items.ToArray();
        _text = text;
    }

    public static Listed<T> Empty { get; } = new(Array.Empty<T>());

    [return: System.Diagnostics.CodeAnalysis.NotNullIfNotNull(nameof(items))]
    public static implicit operator Listed<T>?(T[]? items) => items is null ? null : new(items);
    [return: System.Diagnostics.CodeAnalysis.NotNullIfNotNull(nameof(items))]
    public static implicit operator Listed<T>?(List<T>? items) => items is null ? null : new(items);

    public int Count => _items.Length;
    /// <summary>As an array has it: scripts and code that read Length keep working.</summary>
    public int Length => _items.Length;
    public T this[int index] => _items[index];
    public IEnumerator<T> GetEnumerator() => ((IEnumerable<T>)_items).GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => _items.GetEnumerator();
    public T[] ToArray() => (T[])_items.Clone();

    bool IList.IsReadOnly => true;
    bool IList.IsFixedSize => true;
    object? IList.this[int index] { get => _items[index]; set => throw ReadOnly(); }
    int IList.Add(object? value) => throw ReadOnly();
    void IList.Clear() => throw ReadOnly();
    bool IList.Contains(object? value) => ((IList)_items).Contains(value);
    int IList.IndexOf(object? value) => ((IList)_items).IndexOf(value);
    void IList.Insert(int index, object? value) => throw ReadOnly();
    void IList.Remove(object? value) => throw ReadOnly();
    void IList.RemoveAt(int index) => throw ReadOnly();
    bool ICollection.IsSynchronized => false;
    object ICollection.SyncRoot => _items;
    void ICollection.CopyTo(Array array, int index) => _items.CopyTo(array, index);
    static NotSupportedException ReadOnly() => new("The list of an output object is read-only.");

    public override string ToString() => _text is not null ? _text(this) : string.Join("; ", _items.Select(i => i?.ToString()));
}

/// <summary>
/// A map on an output object: a dictionary to PowerShell (a hashtable's indexing, Keys, ConvertTo-Json as an
/// object) and "key=value; …", or a summary given by the owning type, as text.
/// </summary>
public sealed class Mapped<TValue> : Dictionary<string, TValue>
{
    readonly Func<IReadOnlyDictionary<string, TValue>, string>? _text;

    public Mapped(IEnumerable<KeyValuePair<string, TValue>> map, Func<IReadOnlyDictionary<string, TValue>, string>? text = null)
        : base(map, StringComparer.Ordinal) => _text = text;

    public override string ToString() => _text is not null ? _text(this) : string.Join("; ", this.Select(kv => $"{kv.Key}={kv.Value}"));
}
