using System.Text;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Text;

namespace RemoteGpuTrainer.Engine.Probes;

/// <summary>
/// Kills VRAM zombies on one host in one round trip, re-checking each on the box just before the
/// kill: same start time (no recycled PID), still invisible to nvidia-smi, older than the floor,
/// still holding a device file. Anything else is skipped with its reason.
/// </summary>
public static class ZombieKiller
{
    public static string Script(IReadOnlyList<GpuZombie> zombies, TimeSpan minimumAge)
    {
        var sb = new StringBuilder();
        sb.Append("export LC_ALL=C\n");
        sb.Append("apps=$(nvidia-smi --query-compute-apps=pid --format=csv,noheader,nounits 2>/dev/null)\n");
        sb.Append("rgt_check() { pid=$1; want=$2; shift 2\n");
        sb.Append("  if [ ! -d /proc/$pid ]; then echo \"RESULT $pid gone\"; return; fi\n");
        sb.Append("  case \"$(ps -o stat= -p $pid 2>/dev/null)\" in Z*) echo \"RESULT $pid gone\"; return;; esac\n");
        sb.Append("  now=$(ps -o lstart= -p $pid 2>/dev/null | tr -s ' ' | sed 's/^ //; s/ $//')\n");
        sb.Append("  if [ \"$now\" != \"$want\" ]; then echo \"RESULT $pid recycled\"; return; fi\n");
        sb.Append("  if printf '%s\\n' \"$apps\" | grep -qx \"[[:space:]]*$pid[[:space:]]*\"; then echo \"RESULT $pid visible\"; return; fi\n");
        sb.Append($"  age=$(ps -o etimes= -p $pid 2>/dev/null | tr -d ' '); if [ \"${{age:-0}}\" -lt {(long)minimumAge.TotalSeconds} ]; then echo \"RESULT $pid young\"; return; fi\n");
        sb.Append("  fds=$(ls -l /proc/$pid/fd 2>/dev/null); held=no\n");
        sb.Append("  for f in $RGT_FILES; do case \"$fds\" in *\" -> $f\"*) held=yes;; esac; done\n");
        sb.Append("  if [ $held = no ]; then echo \"RESULT $pid released\"; return; fi\n");
        sb.Append("  if kill -9 $pid 2>/dev/null; then\n");
        sb.Append("    for i in 1 2 3 4 5 6 7 8 9 10; do if [ ! -d /proc/$pid ]; then break; fi; case \"$(ps -o stat= -p $pid 2>/dev/null)\" in Z*) break;; esac; sleep 0.1; done\n");
        sb.Append("    echo \"RESULT $pid killed\"\n");
        sb.Append("  else echo \"RESULT $pid killfailed\"; fi\n");
        sb.Append("}\n");
        foreach (var z in zombies)
        {
            // Device paths are matched inside the function through RGT_FILES (space separated, quoted per entry).
            sb.Append("RGT_FILES=").Append(ShellQuote.Quote(string.Join(' ', z.DeviceFiles))).Append("; ");
            sb.Append("rgt_check ").Append(z.Pid).Append(' ').Append(ShellQuote.Quote(z.StartTime)).Append('\n');
        }
        return sb.ToString();
    }

    public static IReadOnlyList<GpuZombie> Parse(IReadOnlyList<GpuZombie> zombies, string output)
    {
        var results = new Dictionary<int, string>();
        foreach (var line in output.Split('\n'))
        {
            var f = line.Trim().Split(' ');
            if (f.Length == 3 && f[0] == "RESULT" && int.TryParse(f[1], out var pid)) results[pid] = f[2];
        }
        return zombies.Select(z =>
        {
            var code = results.GetValueOrDefault(z.Pid, "unknown");
            var (killed, reason) = code switch
            {
                "killed" => (true, "killed with SIGKILL"),
                "gone" => (false, "skipped: the process had already exited"),
                "recycled" => (false, "skipped: the PID now belongs to another process (start time changed)"),
                "visible" => (false, "skipped: nvidia-smi now lists it as a compute app"),
                "young" => (false, "skipped: younger than the minimum age"),
                "released" => (false, "skipped: it no longer holds a GPU device file"),
                "killfailed" => (false, "kill failed: the holder may live in another container or belong to another user; ask the provider"),
                _ => (false, "not checked: the box gave no answer for this PID"),
            };
            return z with { Killed = killed, Reason = reason };
        }).ToList();
    }
}
