using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace RemoteGpuTrainer.Engine.Checkpoints;

/// <summary>One member of a zip archive, from the central directory, checked against its local header.</summary>
public sealed record ZipMember(string Name, ushort Flags, ushort Method, uint Crc, long CompressedSize, long Size, long LocalHeaderOffset, string? LocalName, long DataOffset);

/// <summary>
/// Reads a zip archive's structure itself (zip64 included) instead of trusting a library that would
/// hide the tricks scanners must see: a local header whose name differs from the central directory,
/// the encrypted flag on plain data, a CRC that does not match.
/// </summary>
public static class ZipInspector
{
    public static bool LooksLikeZip(Stream s)
    {
        if (s.Length < 22) return false;
        var b = new byte[4];
        s.Position = 0; s.ReadExactly(b);
        return b[0] == 'P' && b[1] == 'K' && b[2] == 3 && b[3] == 4;
    }

    public static List<ZipMember> Members(Stream s)
    {
        var (cdOffset, cdCount) = FindCentralDirectory(s);
        var members = new List<ZipMember>();
        s.Position = cdOffset;
        var head = new byte[46];
        for (long i = 0; i < cdCount; i++)
        {
            s.ReadExactly(head);
            if (BinaryPrimitives.ReadUInt32LittleEndian(head) != 0x02014b50) throw new InvalidDataException("a central directory entry has a bad signature");
            var flags = BinaryPrimitives.ReadUInt16LittleEndian(head.AsSpan(8));
            var method = BinaryPrimitives.ReadUInt16LittleEndian(head.AsSpan(10));
            var crc = BinaryPrimitives.ReadUInt32LittleEndian(head.AsSpan(16));
            long csize = BinaryPrimitives.ReadUInt32LittleEndian(head.AsSpan(20));
            long usize = BinaryPrimitives.ReadUInt32LittleEndian(head.AsSpan(24));
            int nameLen = BinaryPrimitives.ReadUInt16LittleEndian(head.AsSpan(28));
            int extraLen = BinaryPrimitives.ReadUInt16LittleEndian(head.AsSpan(30));
            int commentLen = BinaryPrimitives.ReadUInt16LittleEndian(head.AsSpan(32));
            long offset = BinaryPrimitives.ReadUInt32LittleEndian(head.AsSpan(42));
            var name = new byte[nameLen]; s.ReadExactly(name);
            var extra = new byte[extraLen]; s.ReadExactly(extra);
            s.Position += commentLen;
            // zip64 extended information: only the fields that are 0xFFFFFFFF in the fixed header follow
            for (int e = 0; e + 4 <= extra.Length;)
            {
                var id = BinaryPrimitives.ReadUInt16LittleEndian(extra.AsSpan(e));
                var size = BinaryPrimitives.ReadUInt16LittleEndian(extra.AsSpan(e + 2));
                if (id == 1)
                {
                    int p = e + 4;
                    if (usize == 0xFFFFFFFF) { usize = (long)BinaryPrimitives.ReadUInt64LittleEndian(extra.AsSpan(p)); p += 8; }
                    if (csize == 0xFFFFFFFF) { csize = (long)BinaryPrimitives.ReadUInt64LittleEndian(extra.AsSpan(p)); p += 8; }
                    if (offset == 0xFFFFFFFF) { offset = (long)BinaryPrimitives.ReadUInt64LittleEndian(extra.AsSpan(p)); }
                }
                e += 4 + size;
            }
            var back = s.Position;
            var (localName, dataOffset) = LocalHeader(s, offset);
            s.Position = back;
            members.Add(new ZipMember(Encoding.UTF8.GetString(name), flags, method, crc, csize, usize, offset, localName, dataOffset));
        }
        return members;
    }

    static (string? Name, long DataOffset) LocalHeader(Stream s, long offset)
    {
        if (offset < 0 || offset + 30 > s.Length) return (null, -1);
        s.Position = offset;
        var h = new byte[30];
        s.ReadExactly(h);
        if (BinaryPrimitives.ReadUInt32LittleEndian(h) != 0x04034b50) return (null, -1);
        int nameLen = BinaryPrimitives.ReadUInt16LittleEndian(h.AsSpan(26));
        int extraLen = BinaryPrimitives.ReadUInt16LittleEndian(h.AsSpan(28));
        var name = new byte[nameLen];
        s.ReadExactly(name);
        return (Encoding.UTF8.GetString(name), offset + 30 + nameLen + extraLen);
    }

    /// <summary>Reads a member fully (stored or deflated), up to <paramref name="limit"/> bytes, and checks its CRC-32.</summary>
    public static byte[] Read(Stream s, ZipMember m, long limit)
    {
        if (m.Size > limit) throw new InvalidDataException($"{m.Name} is {m.Size} bytes, more than the {limit} this check reads");
        if (m.DataOffset < 0) throw new InvalidDataException($"{m.Name} has no valid local header");
        s.Position = m.DataOffset;
        byte[] data;
        if (m.Method == 0)
        {
            data = new byte[m.Size];
            s.ReadExactly(data);
        }
        else if (m.Method == 8)
        {
            var packed = new byte[m.CompressedSize];
            s.ReadExactly(packed);
            using var inflate = new DeflateStream(new MemoryStream(packed), CompressionMode.Decompress);
            using var ms = new MemoryStream();
            inflate.CopyTo(ms);
            data = ms.ToArray();
        }
        else throw new InvalidDataException($"{m.Name} uses compression method {m.Method}, which checkpoints do not use");
        if (Crc32(data) != m.Crc) throw new InvalidDataException($"{m.Name} fails its CRC-32 check (stored {m.Crc:x8}, computed {Crc32(data):x8})");
        return data;
    }

    static (long Offset, long Count) FindCentralDirectory(Stream s)
    {
        var tailLen = (int)Math.Min(s.Length, 65557);
        var tail = new byte[tailLen];
        s.Position = s.Length - tailLen;
        s.ReadExactly(tail);
        for (int i = tailLen - 22; i >= 0; i--)
        {
            if (BinaryPrimitives.ReadUInt32LittleEndian(tail.AsSpan(i)) != 0x06054b50) continue;
            long count = BinaryPrimitives.ReadUInt16LittleEndian(tail.AsSpan(i + 10));
            long offset = BinaryPrimitives.ReadUInt32LittleEndian(tail.AsSpan(i + 16));
            // zip64: the locator sits just before the end record
            if ((offset == 0xFFFFFFFF || count == 0xFFFF) && i >= 20 && BinaryPrimitives.ReadUInt32LittleEndian(tail.AsSpan(i - 20)) == 0x07064b50)
            {
                var recordOffset = (long)BinaryPrimitives.ReadUInt64LittleEndian(tail.AsSpan(i - 20 + 8));
                var rec = new byte[56];
                s.Position = recordOffset;
                s.ReadExactly(rec);
                if (BinaryPrimitives.ReadUInt32LittleEndian(rec) != 0x06064b50) throw new InvalidDataException("bad zip64 end record");
                count = (long)BinaryPrimitives.ReadUInt64LittleEndian(rec.AsSpan(32));
                offset = (long)BinaryPrimitives.ReadUInt64LittleEndian(rec.AsSpan(48));
            }
            if (offset > s.Length) throw new InvalidDataException("the central directory lies beyond the end of the file (truncated)");
            return (offset, count);
        }
        throw new InvalidDataException("no end-of-central-directory record: the zip is truncated or not a zip");
    }

    static readonly uint[] CrcTable = Enumerable.Range(0, 256).Select(n =>
    {
        uint c = (uint)n;
        for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
        return c;
    }).ToArray();

    public static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint c = 0xFFFFFFFF;
        foreach (var b in data) c = CrcTable[(c ^ b) & 0xFF] ^ (c >> 8);
        return c ^ 0xFFFFFFFF;
    }
}
