using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Scripts;

namespace RemoteGpuTrainer.Engine.Probes;

/// <summary>
/// Kills VRAM zombies on one host in one round trip, re-checking each on the box just before the
/// kill: same start time (no recycled PID), still invisible to nvidia-smi, older than the floor,
/// still holding a device file. Anything else is skipped with its reason.
/// </summary>
public static class ZombieKiller
{
    public static string Script(IReadOnlyList<GpuZombie> zombies, TimeSpan minimumAge) =>
        BoxScript.Load("zombie-kill")
            .Set("MIN_AGE", (long)minimumAge.TotalSeconds)
            .Arguments(zombies.SelectMany(z => new[] { z.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture), z.StartTime, z.DeviceFiles.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) }.Concat(z.DeviceFiles)))
            .Command;

    public static IReadOnlyList<GpuZombie> Parse(IReadOnlyList<GpuZombie> zombies, string output)
    {
        var results = new Dictionary<int, string>();
        foreach (var line in Parsing.ProbeSections.Parse(output)["kill"].Split('\n'))
        {
            var f = line.Split('\t');
            if (f.Length >= 2 && int.TryParse(f[0], out var pid)) results[pid] = f[1];
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
                "appsunknown" => (false, "not killed: nvidia-smi could not list its compute apps, so this holder cannot be told apart from live training"),
                "killfailed" => (false, "kill failed: the holder may live in another container or belong to another user; ask the provider"),
                _ => (false, "not checked: the box gave no answer for this PID"),
            };
            return z with { Killed = killed, Reason = reason };
        }).ToList();
    }
}
