using System.Text;
using RemoteGpuTrainer.Engine.Checkpoints;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Queues;
using RemoteGpuTrainer.Engine.Text;

namespace RemoteGpuTrainer.Engine.Rentals;

/// <summary>What a teardown did, or what the user must do in the console.</summary>
public sealed class GpuTeardown
{
    public string Name { get; init; } = "";
    public string Platform { get; init; } = "";
    /// <summary>Stop (reversible where the platform has it) or Release (destroys the instance).</summary>
    public string Action { get; init; } = "";
    /// <summary>The platform's verb for that action, e.g. 关机, 释放, terminate.</summary>
    public string Verb { get; init; } = "";
    public bool Irreversible { get; init; }
    public bool Verified { get; init; }
    public int CellsVerified { get; init; }
    public int CellsTotal { get; init; }
    /// <summary>ActionRequired (an SSH rental: do it in the console), Done (a provider API did it).</summary>
    public string Status { get; init; } = "";
    public string Instructions { get; init; } = "";
    public bool HostRemoved { get; init; }
}

/// <summary>
/// How a rental's meter is stopped. SSH rentals have no API: the manual provider says exactly what to
/// do in the console. Cloud providers (RunPod, vast.ai, Lambda, Paperspace) implement the same
/// interface against their APIs.
/// </summary>
public interface IRentalProvider
{
    string Name { get; }
    bool CanAct { get; }
    Task<string> StopAsync(GpuHost host, CancellationToken ct);
    Task<string> ReleaseAsync(GpuHost host, CancellationToken ct);
}

public sealed class ManualRentalProvider : IRentalProvider
{
    readonly GpuPlatform _platform;
    public ManualRentalProvider(GpuPlatform platform) => _platform = platform;
    public string Name => "manual";
    public bool CanAct => false;
    public Task<string> StopAsync(GpuHost host, CancellationToken ct) => Task.FromResult(TeardownGate.Instructions(host, _platform, "Stop"));
    public Task<string> ReleaseAsync(GpuHost host, CancellationToken ct) => Task.FromResult(TeardownGate.Instructions(host, _platform, "Release"));
}

/// <summary>The evidence gate of behaviour.md §7 and the texts the prompt and the console need.</summary>
public static class TeardownGate
{
    /// <summary>Every cell of every queue on the box, and the SHA-256 of its kept artifact now (computed fresh, not cached).</summary>
    public static string Script(GpuHost host, string keep)
    {
        var sb = new StringBuilder();
        sb.Append(Parsing.ProbeSections.Emit("queues", string.IsNullOrEmpty(host.DataDir) ? "true" : QueueScripts.State(host, null, tailLines: 1)));
        var durable = string.IsNullOrEmpty(host.DurableDir) ? "''" : ShellQuote.QuotePath(host.DurableDir!);
        var data = string.IsNullOrEmpty(host.DataDir) ? "''" : ShellQuote.QuotePath(host.DataDir!);
        sb.Append(Parsing.ProbeSections.Emit("hashes",
            $"K={ShellQuote.Quote(keep)}; for f in {durable}/final_ckpts/*/\"$K\" {data}/checkpoints/*/*/\"$K\"; do [ -f \"$f\" ] && printf '%s\\t%s\\0' \"$(sha256sum < \"$f\" | cut -c1-64)\" \"$f\"; done; true"));
        return sb.ToString();
    }

    public sealed record GateResult(int Total, int Verified, IReadOnlyList<string> Missing);

    public static GateResult Check(GpuHost host, string output, IReadOnlyList<LedgerEntry> ledger, string keep)
    {
        var s = Parsing.ProbeSections.Parse(output);
        var queues = QueueStateParser.Parse(s["queues"]);
        var hashes = Transfers.RemoteFiles.ParseHashes(s["hashes"] + "\0");
        var verified = ledger.Where(e => string.Equals(e.Host, host.Name, StringComparison.OrdinalIgnoreCase) && e.Verdict == "Verified" && e.RemotePath is not null).ToList();
        var missing = new List<string>();
        int total = 0, ok = 0;
        foreach (var q in queues)
        {
            var owned = q.Assigned.Count > 0 ? q.Cells.Where(c => q.Assigned.Contains(c.Name)) : q.Cells;
            foreach (var c in owned)
            {
                total++;
                var candidates = new[] { QueueScripts.DurableCellDir(host, c.Name), QueueScripts.CheckpointDir(host, q.QueueId, c.Name) }
                    .Where(p => p is not null).Select(p => p + "/" + keep).ToList();
                var evidence = candidates.Select(p => (Path: p, Now: hashes.GetValueOrDefault(p), Entry: verified.LastOrDefault(e => e.RemotePath == p)))
                    .FirstOrDefault(x => x.Entry is not null);
                if (evidence.Entry is null) { missing.Add($"{q.QueueId}/{c.Name}: never pulled and verified (Receive-Checkpoint | Test-Checkpoint)"); continue; }
                if (evidence.Now is null) { missing.Add($"{q.QueueId}/{c.Name}: {evidence.Path} no longer exists on the box"); continue; }
                if (evidence.Now != evidence.Entry.RemoteSha256) { missing.Add($"{q.QueueId}/{c.Name}: {evidence.Path} changed since it was verified (now {evidence.Now[..12]}…, verified {evidence.Entry.RemoteSha256?[..Math.Min(12, evidence.Entry.RemoteSha256.Length)]}…)"); continue; }
                ok++;
            }
        }
        return new GateResult(total, ok, missing);
    }

    /// <summary>The reversible stop when the platform has one, else the destroying verb.</summary>
    public static (string Action, string Verb, bool Irreversible) Choose(GpuPlatform p, string? requested)
    {
        var hasReversibleStop = p.MeterStopIrreversible == false && !string.IsNullOrEmpty(p.MeterStopVerb);
        if (requested == "Release" || !hasReversibleStop)
            return ("Release", p.DestructiveVerb ?? p.MeterStopVerb ?? "manual", true);
        return ("Stop", p.MeterStopVerb!, false);
    }

    public static string Describe(GpuHost host, GpuPlatform p, string action)
    {
        var (_, verb, irreversible) = Choose(p, action);
        var survives = p.Storage.Where(t => irreversible ? t.SurvivesDestroy?.StartsWith("true", StringComparison.OrdinalIgnoreCase) == true : t.SurvivesStop?.StartsWith("true", StringComparison.OrdinalIgnoreCase) == true).Select(t => t.Path).ToList();
        var deleted = p.Storage.Where(t => !survives.Contains(t.Path)).Select(t => t.Path).ToList();
        var sb = new StringBuilder();
        sb.Append($"{p.DisplayName} '{host.Name}' ({host.Endpoint}): {verb} — {(irreversible ? "IRREVERSIBLE" : "reversible")}.");
        if (deleted.Count > 0) sb.Append($" Deletes: {string.Join(", ", deleted)}.");
        if (survives.Count > 0) sb.Append($" Keeps: {string.Join(", ", survives)}.");
        if (!irreversible && p.StopKeepsBilling is not null) sb.Append($" Still billed: {p.StopKeepsBilling}.");
        foreach (var clock in p.DangerClocks) sb.Append($" Danger clock: {clock}.");
        return sb.ToString();
    }

    public static string Instructions(GpuHost host, GpuPlatform p, string action)
    {
        var (_, verb, _) = Choose(p, action);
        var console = p.Name == "generic-ssh" || p.MeterStopVerb == "manual"
            ? "stop or destroy the machine where you rented it (provider console, API or a call): nothing reclaims it by itself."
            : $"open the {p.DisplayName} console and choose {verb} for this instance.";
        var rule = p.TeardownRule is null ? "" : $" Rule: {p.TeardownRule}.";
        return $"{Describe(host, p, action)} To do: {console}{rule}";
    }
}
