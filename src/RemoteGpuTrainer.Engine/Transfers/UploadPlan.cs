namespace RemoteGpuTrainer.Engine.Transfers;

/// <summary>
/// What Send-GpuFile sends: small files (one tar stream per host, <see cref="BatchUploader"/>) and large
/// ones (one by one, resumable, <see cref="Uploader"/>), each with its path relative to the source and,
/// for a .sh file with CRLF line endings when asked, its normalised bytes; what was left out; what to warn about.
/// </summary>
public sealed record UploadPlan(IReadOnlyList<BatchFile> Small, IReadOnlyList<BatchFile> Large, long Bytes, IReadOnlyList<string> Excluded, IReadOnlyList<string> Warnings)
{
    public int Count => Small.Count + Large.Count;

    /// <summary>The files of a local file or folder (recursively, in a stable order), less -Exclude and .rgtignore.</summary>
    public static UploadPlan For(string local, IReadOnlyList<string>? exclude, bool normalizeLineEndings)
    {
        List<(string Full, string Relative)> files;
        if (File.Exists(local)) files = new() { (local, Path.GetFileName(local)) };
        else if (Directory.Exists(local))
            files = Directory.EnumerateFiles(local, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
                .Select(f => (f, Path.GetRelativePath(local, f).Replace('\\', '/'))).ToList();
        else throw new RgtException("PathNotFound", FailureKind.NotFound, $"{local} does not exist.");
        var filter = ExcludeFilter.For(local, exclude);
        var excluded = files.Where(f => filter.Excludes(f.Relative)).Select(f => f.Relative).ToList();
        var warnings = new List<string>();
        var all = new List<BatchFile>();
        foreach (var (full, rel) in files.Where(f => !filter.Excludes(f.Relative)))
        {
            byte[]? content = null;
            if (full.EndsWith(".sh", StringComparison.OrdinalIgnoreCase))
            {
                var bytes = File.ReadAllBytes(full);
                var hasCrlf = bytes.AsSpan().IndexOf("\r\n"u8) >= 0;
                if (hasCrlf && normalizeLineEndings) content = System.Text.Encoding.UTF8.GetBytes(System.Text.Encoding.UTF8.GetString(bytes).Replace("\r\n", "\n"));
                else if (hasCrlf) warnings.Add($"{rel} has Windows (CRLF) line endings; bash on the box will fail with \"$'\\r': command not found\". Pass -NormalizeLineEndings, or set '*.sh text eol=lf' in .gitattributes.");
            }
            all.Add(new BatchFile(full, rel, content));
        }
        long Size(BatchFile f) => f.Content?.LongLength ?? new FileInfo(f.Full).Length;
        var small = all.Where(f => Size(f) <= BatchUploader.MaxFileBytes).ToList();
        var large = all.Where(f => Size(f) > BatchUploader.MaxFileBytes).ToList();
        return new UploadPlan(small, large, all.Sum(f => new FileInfo(f.Full).Length), excluded, warnings);
    }

    /// <summary>The remote folder and name of a file sent under <paramref name="root"/> at its relative path.</summary>
    public static (string Dir, string Name) Target(string root, string relative)
    {
        var slash = relative.LastIndexOf('/');
        return (root.TrimEnd('/') + (slash >= 0 ? "/" + relative[..slash] : ""), slash >= 0 ? relative[(slash + 1)..] : relative);
    }
}
