using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Text;

namespace RemoteGpuTrainer.Engine.Queues;

/// <summary>
/// The on-box safety net (aggregate to durable storage): for every finished cell, copy the keepable
/// artifact, metrics and log to DurableDir/final_ckpts/&lt;cell&gt;, verify sizes, and say per cell
/// Copied, Skipped (no metrics) or Failed, with df bytes and inodes of the durable disk on failure.
/// </summary>
public static class SyncScripts
{
    public static string Sync(GpuHost host, GpuPlatformDefaults defaults, string? queueId)
    {
        if (string.IsNullOrEmpty(host.DurableDir))
            throw new RgtException("DurableDirMissing", FailureKind.InvalidArgument, $"{host.Name} has no DurableDir; set one with Set-GpuHost {host.Name} -DurableDir <path>.");
        var root = ShellQuote.QuotePath(QueueScripts.QueuesRoot(host));
        var filter = queueId is null ? "" : $"[ \"$qid\" = {ShellQuote.Quote(queueId)} ] || continue; ";
        return $$"""
            export LC_ALL=C; DATA={{ShellQuote.QuotePath(host.DataDir!)}}; DURABLE={{ShellQuote.QuotePath(host.DurableDir!)}}; KEEP={{ShellQuote.Quote(defaults.Keep)}}
            T=$(printf '\t')
            for q in {{root}}/*/; do
              [ -d "$q" ] || continue; q=${q%/}; qid=${q##*/}; {{filter}}
              for c in "$q"/cells/*/; do
                [ -d "$c" ] || continue; c=${c%/}; name=${c##*/}
                st=$(cat "$c/state" 2>/dev/null); rc=$(cat "$c/exit_code" 2>/dev/null)
                [ "$st" = Succeeded ] || [ "$st" = SyncFailed ] || [ "$rc" = 0 ] || continue
                ck="$DATA/checkpoints/$qid/$name"; dest="$DURABLE/final_ckpts/$name"
                set -- "$ck"/*metrics*.json
                if [ ! -f "$1" ]; then printf 'RGT_SYNC%sSkipped%s0%sno metrics file in %s%s%s%s%s\n' "$T" "$T" "$T" "$ck" "$T" "$qid" "$T" "$name"; continue; fi
                bytes=0; why=""
                mkdir -p "$dest" 2>/dev/null || why="cannot create $dest"
                if [ -z "$why" ]; then
                  for f in "$ck/$KEEP" "$ck"/*metrics*.json "$c/log"; do
                    [ -f "$f" ] || continue; b=${f##*/}
                    if ! err=$(cp -f "$f" "$dest/.$b.rgt-tmp" 2>&1); then why="copy of $b failed: $err"; rm -f "$dest/.$b.rgt-tmp"; break; fi
                    s1=$(stat -c %s "$f"); s2=$(stat -c %s "$dest/.$b.rgt-tmp")
                    if [ "$s1" != "$s2" ]; then why="size of $b differs after copy ($s1 vs $s2)"; rm -f "$dest/.$b.rgt-tmp"; break; fi
                    mv -f "$dest/.$b.rgt-tmp" "$dest/$b" || { why="rename of $b failed"; break; }
                    bytes=$((bytes + s1))
                  done
                fi
                if [ -n "$why" ]; then
                  df=$(df -Pk "$DURABLE" 2>/dev/null | tail -n 1 | awk '{print $5" bytes used"}'); di=$(df -iP "$DURABLE" 2>/dev/null | tail -n 1 | awk '{print $5" inodes used"}')
                  printf 'RGT_SYNC%sFailed%s%s%s%s (durable disk: %s, %s)%s%s%s%s\n' "$T" "$T" "$bytes" "$T" "$why" "$df" "$di" "$T" "$qid" "$T" "$name"
                  continue
                fi
                [ "$st" = SyncFailed ] && printf 'Succeeded\n' > "$c/state"
                printf 'RGT_SYNC%sCopied%s%s%s%s%s%s%s%s\n' "$T" "$T" "$bytes" "$T" "$dest" "$T" "$qid" "$T" "$name"
              done
            done
            """;
    }

    public static IEnumerable<GpuTransfer> Parse(GpuHost host, string output, TimeSpan duration)
    {
        foreach (var line in output.Split('\n'))
        {
            var f = line.Split('\t');
            if (f.Length != 6 || f[0] != "RGT_SYNC") continue;
            var cell = f[5];
            yield return new GpuTransfer
            {
                Name = host.Name, Cell = cell, Status = f[1], Length = long.TryParse(f[2], out var n) ? n : null,
                RemotePath = QueueScripts.CheckpointDir(host, f[4], cell),
                LocalPath = QueueScripts.DurableCellDir(host, cell) ?? "",
                Reason = f[1] == "Copied" ? null : f[3],
                Duration = duration,
            };
        }
    }
}
