using System.Globalization;
using System.Numerics;
using System.Text;

namespace RemoteGpuTrainer.Engine.Checkpoints;

/// <summary>A value rebuilt symbolically from a pickle stream. Nothing is ever imported or called.</summary>
public abstract record PValue;
public sealed record PScalar(object? Value) : PValue;
public sealed record PList(List<PValue> Items) : PValue;
public sealed record PTuple(List<PValue> Items) : PValue;
public sealed record PDict(List<KeyValuePair<PValue, PValue>> Items) : PValue;
public sealed record PGlobal(string Name) : PValue;
/// <summary>A call the unpickler would make (REDUCE, NEWOBJ, INST, OBJ): callable and arguments.</summary>
public sealed record PCall(PValue Callable, PValue Args) : PValue
{
    /// <summary>Items added by SETITEM(S)/APPEND(S) to the result (an OrderedDict() call, say).</summary>
    public List<KeyValuePair<PValue, PValue>> Items { get; } = new();
}
public sealed record PPersistent(PValue Id) : PValue;
public sealed record PMark : PValue;

/// <summary>What a static walk over one pickle stream found.</summary>
public sealed class PickleScan
{
    public List<string> Globals { get; } = new();
    public List<string> Strings { get; } = new();
    public List<string> Tricks { get; } = new();
    public PValue? Top { get; set; }
    public string? Error { get; set; }
    /// <summary>Where the stream's STOP was (the end of this pickle).</summary>
    public long End { get; set; }
    public int Protocol { get; set; }
}

/// <summary>
/// Walks pickle opcodes (protocols 0-5) over a bounded byte buffer, keeping a symbolic stack and memo
/// so that GLOBAL, STACK_GLOBAL (operands from the stack or memo), INST and OBJ targets are known,
/// and rebuilds the top-level structure. It never imports, calls or evaluates anything.
/// </summary>
public static class PickleScanner
{
    const int MaxOps = 5_000_000;

    public static PickleScan Scan(ReadOnlySpan<byte> data, long start = 0)
    {
        var scan = new PickleScan();
        var stack = new List<PValue>();
        var marks = new Stack<int>();
        var memo = new Dictionary<long, PValue>();
        long pos = start;
        int ops = 0;
        var d = data;
        try
        {
            while (true)
            {
                if (++ops > MaxOps) throw new FormatException("too many opcodes");
                if (pos >= d.Length) throw new FormatException("the stream ends without STOP (truncated)");
                var op = d[(int)pos++];
                switch (op)
                {
                    case 0x80: scan.Protocol = Need(d, ref pos, 1)[0]; break; // PROTO
                    case 0x95: Need(d, ref pos, 8); break; // FRAME
                    case (byte)'.': // STOP
                        scan.Top = stack.Count > 0 ? stack[^1] : null;
                        if (stack.Count != 1) scan.Tricks.Add($"the stack holds {stack.Count} values at STOP");
                        scan.End = pos;
                        return scan;
                    case (byte)'(': marks.Push(stack.Count); break;
                    case (byte)'0': Pop(stack); break;
                    case (byte)'1': PopMark(stack, marks); break;
                    case (byte)'2': stack.Add(Peek(stack)); break;
                    case (byte)'N': stack.Add(new PScalar(null)); break;
                    case 0x88: stack.Add(new PScalar(true)); break;
                    case 0x89: stack.Add(new PScalar(false)); break;
                    case (byte)'I': { var s = Line(d, ref pos); stack.Add(new PScalar(s is "01" ? true : s is "00" ? false : (object)ParseLong(s))); break; }
                    case (byte)'L': stack.Add(new PScalar(ParseLong(Line(d, ref pos).TrimEnd('L')))); break;
                    case (byte)'F': stack.Add(new PScalar(double.Parse(Line(d, ref pos), CultureInfo.InvariantCulture))); break;
                    case (byte)'J': stack.Add(new PScalar((long)BitConverter.ToInt32(Need(d, ref pos, 4)))); break;
                    case (byte)'K': stack.Add(new PScalar((long)Need(d, ref pos, 1)[0])); break;
                    case (byte)'M': stack.Add(new PScalar((long)BitConverter.ToUInt16(Need(d, ref pos, 2)))); break;
                    case 0x8a: { int n = Need(d, ref pos, 1)[0]; stack.Add(new PScalar(Long(Need(d, ref pos, n)))); break; }
                    case 0x8b: { var n = Len(d, ref pos, 4); stack.Add(new PScalar(Long(Need(d, ref pos, n)))); break; }
                    case (byte)'G': { var b = Need(d, ref pos, 8).ToArray(); Array.Reverse(b); stack.Add(new PScalar(BitConverter.ToDouble(b))); break; }
                    case (byte)'S': Str(scan, stack, Unquote(Line(d, ref pos))); break;
                    case (byte)'T': Str(scan, stack, Latin1(Need(d, ref pos, Len(d, ref pos, 4)))); break;
                    case (byte)'U': Str(scan, stack, Latin1(Need(d, ref pos, Need(d, ref pos, 1)[0]))); break;
                    case (byte)'V': Str(scan, stack, Line(d, ref pos)); break;
                    case (byte)'X': Str(scan, stack, Utf8(Need(d, ref pos, Len(d, ref pos, 4)))); break;
                    case 0x8c: Str(scan, stack, Utf8(Need(d, ref pos, Need(d, ref pos, 1)[0]))); break;
                    case 0x8d: Str(scan, stack, Utf8(Need(d, ref pos, Len(d, ref pos, 8)))); break;
                    case (byte)'B': Need(d, ref pos, Len(d, ref pos, 4)); stack.Add(new PScalar("<bytes>")); break;
                    case (byte)'C': Need(d, ref pos, Need(d, ref pos, 1)[0]); stack.Add(new PScalar("<bytes>")); break;
                    case 0x8e: case 0x96: Need(d, ref pos, Len(d, ref pos, 8)); stack.Add(new PScalar("<bytes>")); break;
                    case 0x97: stack.Add(new PScalar("<out-of-band buffer>")); break;
                    case 0x98: break;
                    case (byte)')': stack.Add(new PTuple(new())); break;
                    case 0x85: { var a = Pop(stack); stack.Add(new PTuple(new() { a })); break; }
                    case 0x86: { var b = Pop(stack); var a = Pop(stack); stack.Add(new PTuple(new() { a, b })); break; }
                    case 0x87: { var c = Pop(stack); var b = Pop(stack); var a = Pop(stack); stack.Add(new PTuple(new() { a, b, c })); break; }
                    case (byte)'t': stack.Add(new PTuple(PopMark(stack, marks))); break;
                    case (byte)']': stack.Add(new PList(new())); break;
                    case (byte)'l': stack.Add(new PList(PopMark(stack, marks))); break;
                    case (byte)'}': stack.Add(new PDict(new())); break;
                    case (byte)'d': stack.Add(new PDict(Pairs(PopMark(stack, marks)))); break;
                    case 0x8f: stack.Add(new PList(new())); break;
                    case 0x91: stack.Add(new PList(PopMark(stack, marks))); break;
                    case 0x90: { var items = PopMark(stack, marks); if (Peek(stack) is PList l) l.Items.AddRange(items); break; }
                    case (byte)'a': { var v = Pop(stack); Append(Peek(stack), new[] { v }); break; }
                    case (byte)'e': { var items = PopMark(stack, marks); Append(Peek(stack), items); break; }
                    case (byte)'s': { var v = Pop(stack); var k = Pop(stack); SetItems(Peek(stack), new() { new(k, v) }); break; }
                    case (byte)'u': { var items = PopMark(stack, marks); SetItems(Peek(stack), Pairs(items)); break; }
                    case (byte)'p': memo[ParseLong(Line(d, ref pos))] = Peek(stack); break;
                    case (byte)'q': memo[Need(d, ref pos, 1)[0]] = Peek(stack); break;
                    case (byte)'r': memo[BitConverter.ToUInt32(Need(d, ref pos, 4))] = Peek(stack); break;
                    case 0x94: memo[memo.Count] = Peek(stack); break;
                    case (byte)'g': stack.Add(Memo(memo, ParseLong(Line(d, ref pos)))); break;
                    case (byte)'h': stack.Add(Memo(memo, Need(d, ref pos, 1)[0])); break;
                    case (byte)'j': stack.Add(Memo(memo, BitConverter.ToUInt32(Need(d, ref pos, 4)))); break;
                    case (byte)'c':
                    {
                        var module = Line(d, ref pos); var name = Line(d, ref pos);
                        var g = module + "." + name; scan.Globals.Add(g); stack.Add(new PGlobal(g)); break;
                    }
                    case 0x93: // STACK_GLOBAL
                    {
                        var name = Pop(stack); var module = Pop(stack);
                        if (module is PScalar { Value: string m } && name is PScalar { Value: string n })
                        {
                            var g = m + "." + n; scan.Globals.Add(g); stack.Add(new PGlobal(g));
                        }
                        else
                        {
                            scan.Tricks.Add("STACK_GLOBAL with operands that are not strings (type confusion)");
                            stack.Add(new PGlobal("<malformed>"));
                        }
                        break;
                    }
                    case (byte)'i': // INST module name, args from mark
                    {
                        var module = Line(d, ref pos); var name = Line(d, ref pos);
                        var g = module + "." + name; scan.Globals.Add(g);
                        stack.Add(new PCall(new PGlobal(g), new PTuple(PopMark(stack, marks)))); break;
                    }
                    case (byte)'o': { var items = PopMark(stack, marks); if (items.Count == 0) throw new FormatException("OBJ without a class"); stack.Add(new PCall(items[0], new PTuple(items.Skip(1).ToList()))); break; }
                    case (byte)'R': { var args = Pop(stack); var f = Pop(stack); stack.Add(new PCall(f, args)); break; }
                    case 0x81: { var args = Pop(stack); var cls = Pop(stack); stack.Add(new PCall(cls, args)); break; }
                    case 0x92: { var kw = Pop(stack); var args = Pop(stack); var cls = Pop(stack); stack.Add(new PCall(cls, args)); break; }
                    case (byte)'b': // BUILD: setstate on the object below; a BUILD on a module or global is a trick
                    {
                        var state = Pop(stack); var target = Peek(stack);
                        if (target is PGlobal pg) scan.Tricks.Add($"BUILD on {pg.Name} (overwrites attributes of a module or class)");
                        break;
                    }
                    case (byte)'P': stack.Add(new PPersistent(new PScalar(Line(d, ref pos)))); break;
                    case (byte)'Q': stack.Add(new PPersistent(Pop(stack))); break;
                    case 0x82: case 0x83: case 0x84:
                        Need(d, ref pos, op == 0x82 ? 1 : op == 0x83 ? 2 : 4);
                        scan.Tricks.Add("EXT opcode: a global from the copyreg extension registry");
                        stack.Add(new PGlobal("<extension>"));
                        break;
                    default:
                        throw new FormatException($"unknown opcode 0x{op:x2} at byte {pos - 1}");
                }
            }
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or IndexOutOfRangeException or InvalidOperationException or OverflowException or KeyNotFoundException)
        {
            scan.Error = ex.Message;
            scan.End = pos;
            return scan;
        }
    }

    static void Str(PickleScan scan, List<PValue> stack, string s)
    {
        if (scan.Strings.Count < 10000) scan.Strings.Add(s);
        stack.Add(new PScalar(s));
    }

    static PValue Memo(Dictionary<long, PValue> memo, long key) =>
        memo.TryGetValue(key, out var v) ? v : throw new KeyNotFoundException($"memo key {key} was never stored");

    static void Append(PValue target, IEnumerable<PValue> items)
    {
        if (target is PList l) l.Items.AddRange(items);
        else if (target is PCall c) c.Items.AddRange(items.Select(i => new KeyValuePair<PValue, PValue>(new PScalar(null), i)));
    }

    static void SetItems(PValue target, List<KeyValuePair<PValue, PValue>> items)
    {
        if (target is PDict dict) dict.Items.AddRange(items);
        else if (target is PCall c) c.Items.AddRange(items);
    }

    static List<KeyValuePair<PValue, PValue>> Pairs(List<PValue> flat)
    {
        if (flat.Count % 2 != 0) throw new FormatException("odd number of items for a dict");
        var list = new List<KeyValuePair<PValue, PValue>>();
        for (int i = 0; i < flat.Count; i += 2) list.Add(new(flat[i], flat[i + 1]));
        return list;
    }

    static PValue Pop(List<PValue> stack)
    {
        if (stack.Count == 0) throw new InvalidOperationException("stack underflow");
        var v = stack[^1]; stack.RemoveAt(stack.Count - 1); return v;
    }

    static PValue Peek(List<PValue> stack) => stack.Count == 0 ? throw new InvalidOperationException("stack underflow") : stack[^1];

    static List<PValue> PopMark(List<PValue> stack, Stack<int> marks)
    {
        if (marks.Count == 0) throw new InvalidOperationException("no MARK on the stack");
        var at = marks.Pop();
        var items = stack.GetRange(at, stack.Count - at);
        stack.RemoveRange(at, stack.Count - at);
        return items;
    }

    static ReadOnlySpan<byte> Need(ReadOnlySpan<byte> d, ref long pos, long n)
    {
        if (n < 0 || pos + n > d.Length) throw new FormatException($"needs {n} bytes at byte {pos}, only {d.Length - pos} remain (corrupt or truncated)");
        var s = d.Slice((int)pos, (int)n); pos += n; return s;
    }

    static long Len(ReadOnlySpan<byte> d, ref long pos, int width) => width == 4
        ? BitConverter.ToUInt32(Need(d, ref pos, 4))
        : checked((long)BitConverter.ToUInt64(Need(d, ref pos, 8)));

    static string Line(ReadOnlySpan<byte> d, ref long pos)
    {
        var rest = d[(int)pos..];
        var nl = rest.IndexOf((byte)'\n');
        if (nl < 0) throw new FormatException("a text opcode's line is not terminated");
        var s = rest[..nl];
        pos += nl + 1;
        foreach (var b in s) if (b >= 0x80) throw new FormatException("non-ASCII bytes in a text opcode");
        return Encoding.ASCII.GetString(s);
    }

    static string Utf8(ReadOnlySpan<byte> s) => new UTF8Encoding(false, true).GetString(s);
    static string Latin1(ReadOnlySpan<byte> s) => Encoding.Latin1.GetString(s);
    static string Unquote(string s) => s.Length >= 2 && (s[0] == '\'' || s[0] == '"') ? s[1..^1] : s;
    static long ParseLong(string s) => long.Parse(s.Trim(), CultureInfo.InvariantCulture);

    static object Long(ReadOnlySpan<byte> b)
    {
        var v = new BigInteger(b, isUnsigned: false, isBigEndian: false);
        return v >= long.MinValue && v <= long.MaxValue ? (long)v : v;
    }
}
