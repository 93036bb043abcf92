using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using RemoteGpuTrainer.Engine.Platforms;
using RemoteGpuTrainer.Engine.Model;

namespace RemoteGpuTrainer.Engine.Checkpoints;

public enum CheckpointSafety { Safe, NeedsTrust, Unsafe }

/// <summary>Options a user sets for their own files.</summary>
public sealed record TrustOptions(IReadOnlyList<string> TrustGlobals, bool TrustNonTensorObjects)
{
    public static readonly TrustOptions None = new(Array.Empty<string>(), false);
}

/// <summary>
/// Opens checkpoints without executing them: zip-format torch.save (entries, */data.pkl), TorchScript,
/// legacy multi-pickle torch.save, plain pickles and safetensors (header and offsets), detected by
/// structure rather than the first byte; classifies every global as Safe, NeedsTrust or Unsafe.
/// </summary>
public static class CheckpointVerifier
{
    const long PickleReadLimit = 512L * 1024 * 1024;
    static readonly string[] WeightKeys = { "model_state_dict", "state_dict", "model" };
    static readonly Regex StorageRx = new(@"^torch\.[A-Za-z0-9]*Storage$", RegexOptions.CultureInvariant);
    static readonly HashSet<string> SafeGlobals = new(StringComparer.Ordinal)
    {
        "collections.OrderedDict", "torch.Size", "torch.device", "torch.storage.UntypedStorage", "torch.storage.TypedStorage",
        "torch._tensor._rebuild_from_type_v2", "torch.serialization._get_layout", "torch.strided", "torch.sparse_coo", "_codecs.encode",
        "torch.float32", "torch.float64", "torch.float16", "torch.bfloat16", "torch.int64", "torch.int32", "torch.int16", "torch.int8",
        "torch.uint8", "torch.bool", "torch.complex64", "torch.complex128", "torch.float8_e4m3fn", "torch.float8_e5m2",
    };
    static readonly string[] UnsafePrefixes =
    {
        "os.", "posix.", "nt.", "subprocess.", "_posixsubprocess.", "pty.", "commands.", "pickle.", "_pickle.", "cPickle.", "dill.", "cloudpickle.",
        "marshal.", "runpy.", "importlib.", "imp.", "pkgutil.", "pydoc.", "webbrowser.", "socket.", "requests.", "urllib.", "urllib2.", "http.", "httplib.",
        "ftplib.", "smtplib.", "telnetlib.", "asyncio.", "multiprocessing.", "ctypes.", "cffi.", "code.", "codeop.", "shutil.", "sys.", "types.",
        "functools.partial", "operator.attrgetter", "operator.methodcaller", "operator.itemgetter", "torch._inductor.", "torch.serialization.load",
        "torch.jit.", "torch.hub.", "torch.utils.cpp_extension.", "numpy.testing.", "numpy.load", "signal.", "tempfile.", "glob.", "io.open", "_io.",
    };
    static readonly HashSet<string> UnsafeBuiltins = new(StringComparer.Ordinal)
    {
        "eval", "exec", "compile", "getattr", "setattr", "delattr", "__import__", "apply", "globals", "locals", "vars", "open", "input", "breakpoint", "execfile", "file", "reload",
    };
    static readonly Regex SuspiciousString = new(@"\bos\.system\s*\(|\bsubprocess\.|\beval\s*\(|\bexec\s*\(|__import__\s*\(|\bimport\s+os\b", RegexOptions.CultureInvariant);

    public static CheckpointSafety Classify(string global, bool torchScript, out bool unsafeGlobal)
    {
        unsafeGlobal = false;
        var dot = global.LastIndexOf('.');
        var module = dot > 0 ? global[..dot] : global;
        var name = dot > 0 ? global[(dot + 1)..] : global;
        if (module is "builtins" or "__builtin__" && UnsafeBuiltins.Contains(name)) { unsafeGlobal = true; return CheckpointSafety.Unsafe; }
        if (global.StartsWith('<') || UnsafePrefixes.Any(p => global.StartsWith(p, StringComparison.Ordinal) || global == p.TrimEnd('.'))) { unsafeGlobal = true; return CheckpointSafety.Unsafe; }
        if (SafeGlobals.Contains(global) || StorageRx.IsMatch(global) || global.StartsWith("torch._utils._rebuild_", StringComparison.Ordinal)) return CheckpointSafety.Safe;
        if (torchScript && global.StartsWith("__torch__.", StringComparison.Ordinal)) return CheckpointSafety.Safe;
        return CheckpointSafety.NeedsTrust;
    }

    /// <summary>Verifies one checkpoint file.</summary>
    public static CheckpointVerification VerifyFile(string path, TrustOptions trust, string? name = null)
    {
        var info = new FileInfo(path);
        name ??= info.Name;
        if (!info.Exists) return Fail(name, path, "the file does not exist");
        if (info.Length == 0) return Fail(name, path, "the file is empty", length: 0);
        string sha;
        using (var hs = File.OpenRead(path)) sha = Convert.ToHexString(SHA256.HashData(hs)).ToLowerInvariant();
        using var s = File.OpenRead(path);
        var head = new byte[(int)Math.Min(64, s.Length)];
        s.ReadExactly(head);

        if (TrySafetensors(s, out var stResult)) return Done(name, path, sha, info.Length, "Safetensors", stResult.Error, stResult.Error is null ? CheckpointSafety.Safe : null, Array.Empty<string>(), Array.Empty<string>(), stResult.Error is null ? "(tensors)" : null, null, Array.Empty<string>());
        if (head.Length >= 8 && head[0] == 0x89 && head[1] == (byte)'P' && head[2] == (byte)'N' && head[3] == (byte)'G')
            return Fail(name, path, "not a checkpoint: the file is a PNG image", sha, info.Length);
        var text = Encoding.ASCII.GetString(head);
        if (text.StartsWith("version https://git-lfs", StringComparison.Ordinal))
            return Fail(name, path, "not a checkpoint: a Git LFS pointer was committed instead of the file (run git lfs pull where it came from)", sha, info.Length);
        if (ZipInspector.LooksLikeZip(s)) return VerifyZip(s, name, path, sha, info.Length, trust);
        return VerifyPickleFile(s, name, path, sha, info.Length, trust);
    }

    sealed record StResult(string? Error);

    static bool TrySafetensors(Stream s, out StResult result)
    {
        result = new StResult(null);
        if (s.Length < 10) return false;
        var lenBytes = new byte[9];
        s.Position = 0; s.ReadExactly(lenBytes);
        var n = BinaryPrimitives.ReadUInt64LittleEndian(lenBytes);
        // A safetensors header is JSON that starts with '{' right after the 8-byte length.
        if (lenBytes[8] != (byte)'{') return false;
        if (n < 2 || n > (ulong)(s.Length - 8))
        {
            result = new StResult($"safetensors header length {n} exceeds the file ({s.Length} bytes): truncated or malformed");
            return n > 0 && n < 100_000_000; // still safetensors-shaped: report as a corrupt one
        }
        var header = new byte[n];
        s.Position = 8; s.ReadExactly(header);
        var dataLen = s.Length - 8 - (long)n;
        try
        {
            using var doc = JsonDocument.Parse(header);
            if (doc.RootElement.ValueKind != JsonValueKind.Object) { result = new StResult("safetensors header is not a JSON object"); return true; }
            var ranges = new List<(long Begin, long End)>();
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                if (p.Name == "__metadata__") continue;
                var t = p.Value;
                var dtype = t.GetProperty("dtype").GetString();
                var shape = t.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()).ToList();
                var offs = t.GetProperty("data_offsets").EnumerateArray().Select(x => x.GetInt64()).ToList();
                if (offs.Count != 2 || offs[0] < 0 || offs[1] < offs[0] || offs[1] > dataLen)
                { result = new StResult($"tensor '{p.Name}' has offsets {string.Join(",", offs)} outside the {dataLen}-byte data section"); return true; }
                var size = DtypeSize(dtype);
                var count = shape.Aggregate(1L, (a, b) => a * b);
                if (size is not null && dtype != "BOOL" && count * size != offs[1] - offs[0])
                { result = new StResult($"tensor '{p.Name}' ({dtype} {string.Join("x", shape)}) needs {count * size} bytes but its offsets span {offs[1] - offs[0]}"); return true; }
                ranges.Add((offs[0], offs[1]));
            }
            ranges.Sort();
            for (int i = 1; i < ranges.Count; i++)
                if (ranges[i].Begin < ranges[i - 1].End) { result = new StResult("two tensors overlap in the data section"); return true; }
            return true;
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            result = new StResult($"safetensors header is not valid: {ex.Message}");
            return true;
        }
    }

    static long? DtypeSize(string? dtype) => dtype switch
    {
        "F64" or "I64" or "U64" or "C64" => 8,
        "F32" or "I32" or "U32" => 4,
        "F16" or "BF16" or "I16" or "U16" => 2,
        "I8" or "U8" or "BOOL" or "F8_E4M3" or "F8_E5M2" => 1,
        _ => null,
    };

    static CheckpointVerification VerifyZip(Stream s, string name, string path, string sha, long length, TrustOptions trust)
    {
        List<ZipMember> members;
        try { members = ZipInspector.Members(s); }
        catch (Exception ex) when (ex is InvalidDataException or EndOfStreamException or IOException)
        { return Fail(name, path, $"the zip archive is damaged or truncated: {ex.Message}", sha, length, "Zip"); }
        var tricks = new List<string>();
        foreach (var m in members)
        {
            if ((m.Flags & 1) != 0) tricks.Add($"zip member {m.Name} claims to be encrypted");
            if (m.LocalName is null) tricks.Add($"zip member {m.Name} has no local header where the directory says");
            else if (m.LocalName != m.Name) tricks.Add($"zip member name differs between local header ('{m.LocalName}') and central directory ('{m.Name}')");
        }
        var pickles = members.Where(m => m.Name == "data.pkl" || m.Name.EndsWith("/data.pkl", StringComparison.Ordinal)).ToList();
        var torchScript = members.Any(m => m.Name.EndsWith("/constants.pkl", StringComparison.Ordinal)) && members.Any(m => m.Name.Contains("/code/", StringComparison.Ordinal));
        var torchLayout = pickles.Any(p => p.Name.Contains('/')) && members.Any(m => m.Name.EndsWith("/version", StringComparison.Ordinal));
        var format = torchScript ? "TorchScript" : torchLayout ? "TorchZip" : "Zip";
        if (pickles.Count == 0 && members.All(m => !m.Name.EndsWith(".pkl", StringComparison.Ordinal)))
            return Done(name, path, sha, length, format, "no data.pkl in the zip: not a torch.save checkpoint", tricks.Count > 0 ? CheckpointSafety.Unsafe : null, Array.Empty<string>(), Array.Empty<string>(), null, null, tricks);
        var scans = new List<PickleScan>();
        string? error = null;
        foreach (var m in pickles.Count > 0 ? pickles : members.Where(m => m.Name.EndsWith(".pkl", StringComparison.Ordinal)).ToList())
        {
            try { scans.Add(ScanAll(ZipInspector.Read(s, m, PickleReadLimit), single: true)); }
            catch (Exception ex) when (ex is InvalidDataException or EndOfStreamException or IOException)
            {
                tricks.Add($"zip member {m.Name} cannot be read as stored: {ex.Message}");
                error ??= ex.Message;
            }
        }
        if (!torchLayout && pickles.Count > 0 && !torchScript) tricks.Add("a bare data.pkl in an ordinary zip (not the torch.save layout)");
        return Judge(name, path, sha, length, format, scans, tricks, error, trust, torchScript);
    }

    static CheckpointVerification VerifyPickleFile(Stream s, string name, string path, string sha, long length, TrustOptions trust)
    {
        if (length > PickleReadLimit) return Fail(name, path, $"a {length}-byte non-zip file is larger than the {PickleReadLimit}-byte pickle check allows", sha, length);
        var data = new byte[length];
        s.Position = 0; s.ReadExactly(data);
        var first = PickleScanner.Scan(data);
        var legacy = first.Error is null && first.Top is PScalar { Value: var magic } && magic is System.Numerics.BigInteger bi && bi == LegacyMagic;
        var scans = new List<PickleScan> { first };
        var tricks = new List<string>();
        if (legacy)
        {
            // legacy torch.save: magic, protocol version, sys_info, the object, storage keys, then raw storage bytes
            long at = first.End;
            for (int i = 0; i < 4 && at < data.Length; i++)
            {
                var next = PickleScanner.Scan(data, at);
                scans.Add(next);
                if (next.Error is not null) break;
                at = next.End;
            }
        }
        else if (first.Error is null && first.End < data.Length)
        {
            var trailing = PickleScanner.Scan(data, first.End);
            tricks.Add($"{data.Length - first.End} bytes of data after the pickle's STOP{(trailing.Globals.Count > 0 ? $" (a second pickle importing {string.Join(", ", trailing.Globals)})" : "")}");
            if (trailing.Globals.Count > 0) scans.Add(trailing);
        }
        var error = scans.Select(x => x.Error).FirstOrDefault(e => e is not null);
        var format = legacy ? "LegacyPickle" : "Pickle";
        return Judge(name, path, sha, length, format, scans, tricks, error, trust, false, legacy ? 3 : 0);
    }

    static readonly System.Numerics.BigInteger LegacyMagic = System.Numerics.BigInteger.Parse("119547037146038801333356");

    static PickleScan ScanAll(byte[] data, bool single) => PickleScanner.Scan(data);

    static CheckpointVerification Judge(string name, string path, string sha, long length, string format, List<PickleScan> scans, List<string> tricks, string? error, TrustOptions trust, bool torchScript, int objectIndex = 0)
    {
        var globals = scans.SelectMany(x => x.Globals).Distinct().ToList();
        var unsafeGlobals = new List<string>();
        var needsTrust = new List<string>();
        foreach (var g in globals)
        {
            var verdict = Classify(g, torchScript, out _);
            if (verdict == CheckpointSafety.Unsafe) unsafeGlobals.Add(g);
            else if (verdict == CheckpointSafety.NeedsTrust && !trust.TrustGlobals.Any(t => Glob.IsMatch(g, t))) needsTrust.Add(g);
        }
        tricks.AddRange(scans.SelectMany(x => x.Tricks).Where(t => !t.StartsWith("the stack holds", StringComparison.Ordinal) || unsafeGlobals.Count > 0));
        var suspicious = scans.SelectMany(x => x.Strings).FirstOrDefault(x => SuspiciousString.IsMatch(x));
        if (suspicious is not null) tricks.Add($"a string constant holds code: \"{Short(suspicious)}\"");
        var error2 = error ?? scans.Select(x => x.Error).FirstOrDefault(e => e is not null);
        CheckpointSafety safety = unsafeGlobals.Count > 0 || tricks.Count > 0 ? CheckpointSafety.Unsafe
            : needsTrust.Count > 0 && !trust.TrustNonTensorObjects ? CheckpointSafety.NeedsTrust : CheckpointSafety.Safe;
        if (safety == CheckpointSafety.Safe && needsTrust.Count > 0) safety = CheckpointSafety.Safe; // trusted by -TrustNonTensorObjects
        var top = objectIndex < scans.Count ? scans[objectIndex].Top : null;
        var (weightsKey, epoch) = Weights(top, torchScript);
        string? reason = null;
        if (safety == CheckpointSafety.Unsafe)
            reason = "UNSAFE: " + string.Join("; ", unsafeGlobals.Select(g => $"imports {g}").Concat(tricks)) + ". Do not load it." +
                (error2 is null ? "" : $" The stream is also corrupt: {error2}");
        else if (error2 is not null) reason = $"the pickle stream is corrupt: {error2}";
        else if (safety == CheckpointSafety.NeedsTrust)
            reason = $"needs trust: it imports {string.Join(", ", needsTrust.Take(8))}{(needsTrust.Count > 8 ? ", ..." : "")}; a weights_only load refuses these. If it is your own file, pass -TrustNonTensorObjects or -TrustGlobal.";
        else if (weightsKey is null) reason = "no weights found: the top-level object is not a state_dict and has none of the keys model_state_dict, state_dict, model";
        return Done(name, path, sha, length, format, reason, error2 is not null && unsafeGlobals.Count == 0 && tricks.Count == 0 ? null : safety, globals.ToArray(), unsafeGlobals.ToArray(), weightsKey, epoch, tricks);
    }

    static (string? Key, long? Epoch) Weights(PValue? top, bool torchScript)
    {
        if (torchScript) return ("(TorchScript module)", null);
        if (IsTensor(top)) return ("(tensor)", null);
        var items = top switch { PDict d => d.Items, PCall c when IsDict(c) => c.Items, _ => null };
        if (items is null) return (null, null);
        long? epoch = null;
        string? key = null;
        foreach (var kv in items)
        {
            if (kv.Key is not PScalar { Value: string k }) continue;
            if (k == "epoch" && kv.Value is PScalar { Value: long e }) epoch = e;
            if (key is null && WeightKeys.Contains(k)) key = k;
        }
        if (key is null && items.Count > 0 && items.All(kv => IsTensor(kv.Value))) key = "(state_dict)";
        return (key, epoch);
    }

    static bool IsDict(PCall c) => c.Callable is PGlobal { Name: "collections.OrderedDict" or "builtins.dict" or "__builtin__.dict" };

    static bool IsTensor(PValue? v) => v is PCall { Callable: PGlobal g } && (g.Name.StartsWith("torch._utils._rebuild_", StringComparison.Ordinal) || g.Name == "torch._tensor._rebuild_from_type_v2");

    static string Short(string s) => s.Length <= 80 ? s.Replace('\n', ' ') : s[..77].Replace('\n', ' ') + "...";

    static CheckpointVerification Done(string name, string path, string sha, long length, string format, string? reason, CheckpointSafety? safety, string[] globals, string[] unsafeGlobals, string? weightsKey, long? epoch, IReadOnlyList<string> tricks) => new()
    {
        Cell = name, Path = path, Sha256 = sha, Length = length, Format = format, SafetyLevel = safety, Globals = globals, UnsafeGlobals = unsafeGlobals,
        WeightsKey = weightsKey, Epoch = epoch, Status = reason is null ? "Verified" : "Failed", Reason = reason,
    };

    static CheckpointVerification Fail(string name, string path, string reason, string? sha = null, long? length = null, string? format = null) => new()
    {
        Cell = name, Path = path, Status = "Failed", Reason = reason, Sha256 = sha, Length = length, Format = format,
    };
}
