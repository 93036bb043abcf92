using RemoteGpuTrainer.Engine.Scripts;

namespace RemoteGpuTrainer.Engine.Queues;

/// <summary>What one read of a cell's log returned: whole lines, how far they reach, the cell's state.</summary>
public sealed record LogChunk(IReadOnlyList<string> Lines, long End, string? State)
{
    public bool Running => State is "Running";
}

/// <summary>Reads a cell's log on the box (log-read.sh): the last lines, or what was added since an offset.</summary>
public static class LogReader
{
    /// <summary><paramref name="offset"/> -1 reads the last <paramref name="tail"/> lines.</summary>
    public static string Script(string log, long offset, int tail) =>
        BoxScript.Load("log-read").Set("LOG", log).Set("OFFSET", offset).Set("TAIL", tail).Command;

    public static LogChunk Parse(string hostName, string log, string output)
    {
        var s = Parsing.ProbeSections.Parse(output);
        if (s.ExitCode("log") != 0)
            throw new RgtException("LogNotFound", FailureKind.NotFound,
                $"{hostName}: cannot read {log}: {(s.Has("log") ? s["log"].Trim() : "no answer")} (the cell may not have started yet).");
        var meta = s["meta"].Split('\n').Select(l => l.Split('\t', 2)).Where(f => f.Length == 2).ToDictionary(f => f[0], f => f[1]);
        var text = s["log"];
        var lines = text.Length == 0 ? Array.Empty<string>() : text.Split('\n');
        return new LogChunk(lines, long.TryParse(meta.GetValueOrDefault("end"), out var end) ? end : 0, meta.GetValueOrDefault("state")?.Trim());
    }
}
