using System.Security.Cryptography;

namespace RemoteGpuTrainer.Engine.Transfers;

/// <summary>
/// The local side of one pull attempt: appends to the partial file and folds every byte of the file,
/// in order, into one SHA-256.
/// A fresh partial is preallocated to the remote size: a disk that cannot hold the file fails at once,
/// before any byte is fetched, and ext4 spends far less CPU on writes into allocated blocks. The file's
/// length stays the number of bytes written, so a resume can trust it.
/// On a resume the kept prefix is hashed on another thread while new bytes arrive (a 20 GiB prefix
/// takes seconds to hash); bytes written before it finishes are hashed back from the file, and so are
/// the later ranges of a file read over several connections (<see cref="WriteAt"/>) once the first
/// range is done.
/// </summary>
sealed class PartialFile : IDisposable
{
    readonly string _path;
    readonly FileStream _out;
    readonly IncrementalHash _hash;
    readonly Task _prefix;
    readonly CancellationTokenSource _stop;
    long _hashed;
    long _written;
    long _unflushed;
    Task _flush = Task.CompletedTask;
    readonly object _flushGate = new();

    /// <summary>
    /// Dirty bytes that start a background fsync: the final fsync before the rename then waits only for
    /// the tail; inside the transfer the flush overlaps the network (bench/MEASUREMENTS.md, "Background flush").
    /// </summary>
    const long FlushEvery = 64L << 20;

    public PartialFile(string path, long offset, long remoteSize, IncrementalHash hash, CancellationToken ct)
    {
        _path = path;
        _hash = hash;
        _written = _hashed = offset;
        _out = offset > 0 ? new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.Read, 1) : Create(path, remoteSize);
        _stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        _prefix = offset > 0 ? Task.Run(() => HashRange(0, offset, _stop.Token), _stop.Token) : Task.CompletedTask;
    }

    /// <summary>The next bytes after the whole part: written and, once the prefix is hashed, hashed.</summary>
    public void Append(byte[] buffer, int count)
    {
        RandomAccess.Write(_out.SafeFileHandle, buffer.AsSpan(0, count), _written);
        _written += count;
        Written(count);
        if (!_prefix.IsCompletedSuccessfully) return;
        CatchUp(_written - count);
        _hash.AppendData(buffer, 0, count);
        _hashed = _written;
    }

    /// <summary>Bytes of a later range, from another thread; hashed from the file at the end.</summary>
    public void WriteAt(byte[] buffer, int count, long fileOffset)
    {
        RandomAccess.Write(_out.SafeFileHandle, buffer.AsSpan(0, count), fileOffset);
        Written(count);
    }

    void Written(int count)
    {
        if (Interlocked.Add(ref _unflushed, count) < FlushEvery) return;
        lock (_flushGate)
        {
            if (!_flush.IsCompleted || Interlocked.Read(ref _unflushed) < FlushEvery) return;
            Interlocked.Exchange(ref _unflushed, 0);
            _flush = Task.Run(() => _out.Flush(flushToDisk: true));
        }
    }

    /// <summary>Waits for the prefix, hashes the file up to <paramref name="end"/> and makes the bytes durable.</summary>
    public async Task CompleteAsync(long end)
    {
        await _prefix.ConfigureAwait(false);
        CatchUp(end);
        await _flush.ConfigureAwait(false);
        _out.Flush(flushToDisk: true);
    }

    /// <summary>An attempt that failed stops the prefix hash before its hash object goes away.</summary>
    public void Dispose()
    {
        _stop.Cancel();
        try { _prefix.Wait(); } catch (AggregateException) { }
        try { _flush.Wait(); } catch (AggregateException) { }
        _stop.Dispose();
        _out.Dispose();
    }

    void CatchUp(long upTo)
    {
        if (_hashed >= upTo) return;
        HashRange(_hashed, upTo, CancellationToken.None);
        _hashed = upTo;
    }

    void HashRange(long from, long to, CancellationToken ct)
    {
        using var handle = File.OpenHandle(_path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        var buffer = new byte[1 << 20];
        for (long at = from; at < to;)
        {
            ct.ThrowIfCancellationRequested();
            var n = RandomAccess.Read(handle, buffer.AsSpan(0, (int)Math.Min(buffer.Length, to - at)), at);
            if (n == 0) throw new IOException($"{_path} ended at {at} bytes while {to} were expected");
            _hash.AppendData(buffer, 0, n);
            at += n;
        }
    }

    static FileStream Create(string path, long size)
    {
        try
        {
            return new FileStream(path, new FileStreamOptions
            {
                Mode = FileMode.Create, Access = FileAccess.Write, Share = FileShare.Read, BufferSize = 1, PreallocationSize = size,
            });
        }
        catch (IOException ex) when (FreeBytes(path) is long free && free < size)
        {
            throw new RgtException("LocalDiskFull", FailureKind.OperationFailed,
                $"{path}: the file needs {Format.Bytes(size)} but its disk has {Format.Bytes(free)} free; nothing was written. Free space or pick another -Destination.", ex);
        }
    }

    static long? FreeBytes(string path)
    {
        try { return new DriveInfo(Path.GetDirectoryName(Path.GetFullPath(path))!).AvailableFreeSpace; }
        catch (Exception ex) when (ex is IOException or ArgumentException or UnauthorizedAccessException) { return null; }
    }
}
