using System.Globalization;
using System.Text;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Text;

namespace RemoteGpuTrainer.Engine.Queues;

/// <summary>What Start-GpuQueue launches on one host.</summary>
public sealed record LaunchPlan(string QueueId, IReadOnlyList<QueueCell> AllCells, IReadOnlyList<QueueCell> Owned, int StartAt, string Detach, string? WorkingDirectory);

/// <summary>The shell scripts that launch, read and stop queues on a box. All paths and names are quoted.</summary>
public static class QueueScripts
{
    public const string Marker = "@@RGTQ ";

    public static string QueuesRoot(GpuHost host) => Combine(DataDir(host), ".rgt/queues");

    public static string QueueDir(GpuHost host, string queueId) => Combine(QueuesRoot(host), queueId);

    public static string CheckpointDir(GpuHost host, string queueId, string cell) => Combine(DataDir(host), $"checkpoints/{queueId}/{cell}");

    public static string? DurableCellDir(GpuHost host, string cell) => string.IsNullOrEmpty(host.DurableDir) ? null : Combine(host.DurableDir!, $"final_ckpts/{cell}");

    static string DataDir(GpuHost host) => string.IsNullOrEmpty(host.DataDir)
        ? throw new RgtException("DataDirMissing", FailureKind.InvalidArgument, $"{host.Name} has no DataDir; set one with Set-GpuHost {host.Name} -DataDir <path>.")
        : host.DataDir!;

    static string Combine(string a, string b) => a.TrimEnd('/') + "/" + b;

    public static string SessionName(string queueId) =>
        "rgt-" + new string(queueId.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '_').ToArray());

    /// <summary>Reads every queue under the host's data dir (or one), with per-cell markers and log tails, read-only.</summary>
    public static string State(GpuHost host, string? queueId, int tailLines = 30)
    {
        var root = ShellQuote.QuotePath(QueuesRoot(host));
        var filter = queueId is null ? "" : $"[ \"$qid\" = {ShellQuote.Quote(queueId)} ] || continue; ";
        return $$"""
            export LC_ALL=C; now=$(date +%s); echo "{{Marker}}now $now"
            for q in {{root}}/*/; do
              [ -d "$q" ] || continue; q=${q%/}; qid=${q##*/}; {{filter}}
              echo "{{Marker}}queue $qid"
              echo "{{Marker}}frozen"; cat "$q/queue.txt" 2>/dev/null
              echo "{{Marker}}assigned"; cat "$q/assigned" 2>/dev/null
              echo "{{Marker}}meta"
              for m in session QUEUE_DONE QUEUE_FAILED launcher.pid; do [ -f "$q/$m" ] && printf '%s=%s\n' "$m" "$(head -c 2000 "$q/$m" | tr '\n' ' ')"; done
              lp=$(cat "$q/launcher.pid" 2>/dev/null); alive=0
              if [ -n "$lp" ] && kill -0 "$lp" 2>/dev/null && grep -qa launcher- "/proc/$lp/cmdline" 2>/dev/null; then alive=1; fi
              echo "alive=$alive"
              for c in "$q"/cells/*/; do
                [ -d "$c" ] || continue; c=${c%/}
                echo "{{Marker}}cell ${c##*/}"
                for f in state exit_code started_at finished_at pid; do [ -f "$c/$f" ] && printf '%s=%s\n' "$f" "$(head -c 200 "$c/$f" | tr '\n' ' ')"; done
                p=$(cat "$c/pid" 2>/dev/null); if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then echo "pid_alive=1"; else echo "pid_alive=0"; fi
                [ -f "$c/log" ] && echo "log_age=$(( now - $(stat -c %Y "$c/log") ))"
                echo "{{Marker}}tail"; tail -n {{tailLines}} "$c/log" 2>/dev/null | cut -c1-500
                echo "{{Marker}}crash"; grep -a -m 1 -E 'Traceback \(most recent call last\)|CUDA out of memory|OutOfMemoryError|^Killed|iostream error|No space left on device|NCCL (error|WARN.*(failed|timeout))|Segmentation fault|core dumped' "$c/log" 2>/dev/null | cut -c1-300
              done
            done
            echo "{{Marker}}end"
            """;
    }

    /// <summary>Writes the frozen queue, the ownership list and a new versioned launcher, then starts it detached.</summary>
    public static string Start(GpuHost host, GpuPlatformDefaults platform, LaunchPlan plan)
    {
        var q = ShellQuote.QuotePath(QueueDir(host, plan.QueueId));
        var delimiter = "RGT_EOF_" + Guid.NewGuid().ToString("N");
        var session = SessionName(plan.QueueId);
        var sb = new StringBuilder();
        sb.Append("export LC_ALL=C; set -e\n");
        sb.Append($"Q={q}; mkdir -p \"$Q/cells\"\n");
        sb.Append("lp=$(cat \"$Q/launcher.pid\" 2>/dev/null || true)\n");
        sb.Append("if [ -n \"$lp\" ] && kill -0 \"$lp\" 2>/dev/null && grep -qa launcher- \"/proc/$lp/cmdline\" 2>/dev/null; then echo \"RGT_RUNNING $lp\"; exit 0; fi\n");
        sb.Append("n=1; while [ -e \"$Q/launcher-$n.sh\" ]; do n=$((n+1)); done; L=\"$Q/launcher-$n.sh\"\n");
        sb.Append($"cat > \"$L.tmp\" <<'{delimiter}'\n").Append(Launcher(host, platform, plan)).Append($"{delimiter}\n");
        sb.Append("mv \"$L.tmp\" \"$L\"\n");
        sb.Append($"cat > \"$Q/queue.txt.tmp\" <<'{delimiter}'\n").Append(QueueFile.Freeze(plan.AllCells)).Append($"{delimiter}\n");
        sb.Append("mv -f \"$Q/queue.txt.tmp\" \"$Q/queue.txt\"\n");
        sb.Append($"cat > \"$Q/assigned.tmp\" <<'{delimiter}'\n").Append(string.Concat(plan.Owned.Select(c => c.Name + "\n"))).Append($"{delimiter}\n");
        sb.Append("mv -f \"$Q/assigned.tmp\" \"$Q/assigned\"\n");
        sb.Append("rm -f \"$Q/QUEUE_DONE\" \"$Q/QUEUE_FAILED\" \"$Q/launcher.pid\"\n");
        var tmux = plan.Detach is "Tmux" or "Auto";
        sb.Append($"S={ShellQuote.Quote(session)}\n");
        if (tmux) sb.Append("if command -v tmux >/dev/null 2>&1; then tmux kill-session -t \"=$S\" 2>/dev/null || true; tmux new-session -d -s \"$S\" bash \"$L\"; echo \"tmux:$S\" > \"$Q/session\"; else\n");
        if (plan.Detach == "Tmux") sb.Append("echo 'RGT_NO_TMUX'; exit 0; fi\n");
        else
        {
            sb.Append("setsid nohup bash \"$L\" </dev/null >>\"$Q/master.log\" 2>&1 &\n");
            sb.Append("echo nohup > \"$Q/session\"\n");
            if (tmux) sb.Append("fi\n");
        }
        sb.Append("i=0; while [ ! -s \"$Q/launcher.pid\" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done\n");
        sb.Append("echo \"RGT_STARTED $n $(cat \"$Q/launcher.pid\" 2>/dev/null) $(cat \"$Q/session\")\"\n");
        return sb.ToString();
    }

    static string Launcher(GpuHost host, GpuPlatformDefaults platform, LaunchPlan plan)
    {
        string Q(string? s) => ShellQuote.Quote(s ?? "");
        string P(string? s) => string.IsNullOrEmpty(s) ? "''" : ShellQuote.QuotePath(s!);
        var sb = new StringBuilder();
        sb.Append("#!/usr/bin/env bash\n");
        sb.Append($"# RemoteGpuTrainer queue launcher for {plan.QueueId.Replace('\n', ' ')}. Never edited in place: each launch writes a new numbered file.\n");
        sb.Append("set -u\n");
        sb.Append($"Q={P(QueueDir(host, plan.QueueId))}; DATA={P(host.DataDir)}; DURABLE={P(host.DurableDir)}; QID={Q(plan.QueueId)}\n");
        sb.Append($"KEEP={Q(platform.Keep)}; SCRATCH={Q(platform.Scratch)}; CRED={P(host.CredFile)}; WORKDIR={P(plan.WorkingDirectory ?? host.DataDir)}\n");
        sb.Append("printf '%s\\n' $$ > \"$Q/launcher.pid.tmp.$$\" && mv -f \"$Q/launcher.pid.tmp.$$\" \"$Q/launcher.pid\"\n");
        sb.Append("put() { printf '%s\\n' \"$2\" > \"$1.tmp.$$\" && mv -f \"$1.tmp.$$\" \"$1\"; }\n");
        sb.Append("now() { date -u +%Y-%m-%dT%H:%M:%SZ; }\n");
        sb.Append("""
            rgt_sync() {
              ck=$1; d=$2; dest=$3
              [ -n "$DURABLE" ] || { echo "=== rgt: no durable directory configured; nothing synced" >> "$d/log"; return 0; }
              mkdir -p "$dest" 2>>"$d/log" || return 1
              for f in "$ck/$KEEP" "$ck"/*metrics*.json; do
                [ -f "$f" ] || continue
                b=${f##*/}
                if ! cp -f "$f" "$dest/.$b.rgt-tmp" 2>>"$d/log"; then rm -f "$dest/.$b.rgt-tmp"; return 1; fi
                if [ "$(stat -c %s "$f")" != "$(stat -c %s "$dest/.$b.rgt-tmp")" ]; then rm -f "$dest/.$b.rgt-tmp"; return 1; fi
                mv -f "$dest/.$b.rgt-tmp" "$dest/$b" || return 1
              done
              cp -f "$d/log" "$dest/log" 2>/dev/null || true
              return 0
            }
            run_cell() {
              name=$1; cmd=$2; force=$3
              d="$Q/cells/$name"; ck="$DATA/checkpoints/$QID/$name"
              mkdir -p "$d" "$ck"
              if [ "$force" = 0 ] && [ "$(cat "$d/state" 2>/dev/null)" = Succeeded ]; then return 0; fi
              rm -f "$d/exit_code" "$d/finished_at"
              put "$d/started_at" "$(now)"; put "$d/state" Running
              echo "=== rgt: cell $name started $(now)" >> "$d/log"
              (

            """);
        if (!string.IsNullOrWhiteSpace(host.ProxyHook)) sb.Append("    ").Append(host.ProxyHook!.Replace("\n", " ")).Append('\n');
        sb.Append("""
                if [ -f "$DATA/.rgt/env.sh" ]; then . "$DATA/.rgt/env.sh"; fi
                if [ -n "$CRED" ] && [ -f "$CRED" ]; then WANDB_API_KEY=$(cat "$CRED"); export WANDB_API_KEY; fi
                export PYTHONUNBUFFERED=1 RGT_CHECKPOINT_DIR="$ck" RGT_CELL="$name" RGT_LOG="$d/log" RGT_QUEUE="$QID"
                cd "$WORKDIR" || exit 97
                exec bash -c "$cmd"
              ) >> "$d/log" 2>&1 < /dev/null &
              cpid=$!
              put "$d/pid" "$cpid"
              wait "$cpid"; rc=$?
              put "$d/exit_code" "$rc"; put "$d/finished_at" "$(now)"
              if [ "$rc" -ne 0 ]; then put "$d/state" Failed; echo "=== rgt: cell $name FAILED with exit code $rc" >> "$d/log"; return 1; fi
              if [ -n "$SCRATCH" ] && [ -f "$ck/$KEEP" ]; then rm -f "$ck/$SCRATCH"; fi
              if rgt_sync "$ck" "$d" "$DURABLE/final_ckpts/$name"; then put "$d/state" Succeeded; echo "=== rgt: cell $name Succeeded" >> "$d/log"; return 0; fi
              put "$d/state" SyncFailed; echo "=== rgt: cell $name SyncFailed: the copy to durable storage did not verify" >> "$d/log"; return 1
            }
            failed=""

            """);
        foreach (var c in plan.Owned)
        {
            if (c.Index < plan.StartAt) continue;
            var force = plan.StartAt > 1 ? "1" : "0";
            sb.Append($"run_cell {Q(c.Name)} {Q(c.Command)} {force} || failed=\"$failed {c.Index}:\"{Q(c.Name)}\n");
        }
        sb.Append("""
            if [ -z "$failed" ]; then put "$Q/QUEUE_DONE" "$(now)"; rm -f "$Q/QUEUE_FAILED"; exit 0; fi
            put "$Q/QUEUE_FAILED" "failed cells:$failed"; exit 1

            """);
        return sb.ToString();
    }

    /// <summary>Stops the detach session and the launcher's process group; marks running cells Failed (143).</summary>
    public static string Stop(GpuHost host, string queueId)
    {
        var q = ShellQuote.QuotePath(QueueDir(host, queueId));
        return $$"""
            Q={{q}}; S={{ShellQuote.Quote(SessionName(queueId))}}
            [ -d "$Q" ] || { echo "RGT_NOQUEUE"; exit 0; }
            lp=$(cat "$Q/launcher.pid" 2>/dev/null)
            for c in "$Q"/cells/*/; do [ "$(cat "$c/state" 2>/dev/null)" = Running ] && { printf 'Failed\n' > "$c/state"; printf '143\n' > "$c/exit_code"; date -u +%Y-%m-%dT%H:%M:%SZ > "$c/finished_at"; }; done
            printf 'stopped by Stop-GpuQueue %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" > "$Q/QUEUE_FAILED"
            if [ -n "$lp" ] && grep -qa launcher- "/proc/$lp/cmdline" 2>/dev/null; then kill -TERM -- "-$lp" 2>/dev/null || kill -TERM "$lp" 2>/dev/null; fi
            command -v tmux >/dev/null 2>&1 && tmux kill-session -t "=$S" 2>/dev/null
            sleep 2
            [ -n "$lp" ] && kill -KILL -- "-$lp" 2>/dev/null
            echo "RGT_STOPPED"
            """;
    }

    /// <summary>Second call after a stop: is anything of the queue still alive?</summary>
    public static string VerifyStopped(GpuHost host, string queueId)
    {
        var q = ShellQuote.QuotePath(QueueDir(host, queueId));
        return $$"""
            Q={{q}}; S={{ShellQuote.Quote(SessionName(queueId))}}; left=""
            lp=$(cat "$Q/launcher.pid" 2>/dev/null)
            if [ -n "$lp" ]; then for p in $(pgrep -g "$lp" 2>/dev/null); do case "$(ps -o stat= -p "$p" 2>/dev/null)" in Z*|"") ;; *) left="$left $p";; esac; done; fi
            command -v tmux >/dev/null 2>&1 && tmux has-session -t "=$S" 2>/dev/null && left="$left tmux:$S"
            echo "RGT_LEFT$left"
            """;
    }
}

/// <summary>The platform values a launcher needs: what to keep and what scratch to prune.</summary>
public sealed record GpuPlatformDefaults(string Keep, string Scratch)
{
    public static GpuPlatformDefaults From(GpuPlatform? p) => new(
        string.IsNullOrEmpty(p?.Keep) ? "best.pth" : p!.Keep!,
        string.IsNullOrEmpty(p?.Scratch) ? "latest.pth" : p!.Scratch!);
}
