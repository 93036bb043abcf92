namespace RemoteGpuTrainer.Engine;

/// <summary>
/// An exclusive lock on a sibling ".lock" file, held across read-modify-write of local state so
/// that concurrent writers (two pwsh sessions, a scheduled patrol) lose nothing.
/// </summary>
public sealed class FileLock : IDisposable
{
    readonly FileStream _stream;

    FileLock(FileStream stream) => _stream = stream;

    public static FileLock Acquire(string path, TimeSpan timeout)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var lockPath = path + ".lock";
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                return new FileLock(new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(Random.Shared.Next(10, 40));
            }
            catch (IOException ex)
            {
                throw new RgtException("StateLocked", FailureKind.ResourceBusy,
                    $"Another process holds the lock {lockPath} for longer than {timeout.TotalSeconds:0} s. If no other RemoteGpuTrainer command is running, delete that file.", ex);
            }
        }
    }

    /// <summary>Writes <paramref name="content"/> to <paramref name="path"/> atomically: temp file, flush to disk, rename.</summary>
    public static void WriteAllTextAtomic(string path, string content)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(dir);
        var tmp = Path.Combine(dir, "." + Path.GetFileName(path) + "." + Guid.NewGuid().ToString("N") + ".tmp");
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write))
            using (var w = new StreamWriter(fs, new System.Text.UTF8Encoding(false)))
            {
                w.Write(content);
                w.Flush();
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }

    public void Dispose() => _stream.Dispose();
}
