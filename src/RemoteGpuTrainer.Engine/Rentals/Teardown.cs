using System.Text;
using RemoteGpuTrainer.Engine.Checkpoints;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Queues;
using RemoteGpuTrainer.Engine.Scripts;
using RemoteGpuTrainer.Engine.Ssh;
using System.Globalization;

namespace RemoteGpuTrainer.Engine.Rentals;

/// <summary>The evidence gate (docs/ARCHITECTURE.md, the evidence chain) and the texts the prompt and the console need.</summary>
public static class TeardownGate
{
    /// <summary>Every cell of every queue on the box, and the SHA-256 of its kept artifact now (computed fresh, not cached).</summary>
    public static string Script(GpuHost host, string keep) =>
        QueueScripts.StateScript(BoxScript.Load("queue-state", "teardown-gate"), host, null, tailLines: 1)
            .Set("KEEP", keep).Set("DATA_DIR", host.DataDir).Set("DURABLE_DIR", host.DurableDir).Command;

    /// <summary>
    /// What the gate found. <see cref="NoEvidence"/> says why there is nothing to judge (no queue,
    /// unreadable state, a failed script): the gate opens only on cells launched and verified.
    /// </summary>
    public sealed record GateResult(int Total, int Verified, IReadOnlyList<string> Missing, string? NoEvidence = null)
    {
        public bool Open => NoEvidence is null && Missing.Count == 0 && Total > 0 && Verified == Total;
    }

    public static GateResult Check(GpuHost host, CommandOutput output, IReadOnlyList<LedgerEntry> ledger, string keep)
    {
        var s = Parsing.ProbeSections.Parse(output.StdOut);
        var read = QueueStateParser.Read(s);
        GateResult None(string why) => new(0, 0, Array.Empty<string>(), why);
        if (!read.Complete)
        {
            var detail = s.Has("queues") ? s["queues"].Split('\n').FirstOrDefault(l => l.Length > 0) : (output.StdErr + output.StdOut).Trim();
            return None($"the box's queue state could not be read (status {s.ExitCode("queues")?.ToString(CultureInfo.InvariantCulture) ?? "none"}{(string.IsNullOrEmpty(detail) ? "" : ": " + detail)})");
        }
        var broken = read.Queues.FirstOrDefault(q => q.FrozenError is not null);
        if (broken is not null) return None($"queue '{broken.QueueId}' on the box cannot be read: {broken.FrozenError}");
        if (s.ExitCode("hashes") != 0)
            return None($"the box could not hash its artifacts (status {s.ExitCode("hashes")?.ToString(CultureInfo.InvariantCulture) ?? "none"}: {s["hashes"].Replace('\0', ' ').Trim()})");
        if (read.Queues.Count == 0)
            return None($"no queue was ever launched under {QueueScripts.QueuesRoot(host)}, so no cell's results are known");
        var hashes = Transfers.RemoteFiles.ParseHashes(s["hashes"] + "\0");
        var verified = ledger.Where(e => string.Equals(e.Host, host.Name, StringComparison.OrdinalIgnoreCase) && EvidenceLedger.IsEvidence(e)).ToList();
        var missing = new List<string>();
        int total = 0, ok = 0;
        foreach (var q in read.Queues)
        {
            var owned = q.Assigned.Count > 0 ? q.Cells.Where(c => q.Assigned.Contains(c.Name)) : q.Cells;
            foreach (var c in owned)
            {
                total++;
                var candidates = new[] { QueueScripts.DurableCellDir(host, c.Name), QueueScripts.CheckpointDir(host, q.QueueId, c.Name) }
                    .Where(p => p is not null).Select(p => p + "/" + keep).ToList();
                var evidence = candidates.Select(p => (Path: p, Now: hashes.GetValueOrDefault(p), Entry: verified.LastOrDefault(e => e.RemotePath == p)))
                    .FirstOrDefault(x => x.Entry is not null);
                if (evidence.Entry is null) { missing.Add($"{q.QueueId}/{c.Name}: never pulled and verified"); continue; }
                if (evidence.Now is null) { missing.Add($"{q.QueueId}/{c.Name}: {evidence.Path} no longer exists on the box"); continue; }
                if (evidence.Now != evidence.Entry.RemoteSha256) { missing.Add($"{q.QueueId}/{c.Name}: {evidence.Path} changed since it was verified (now {evidence.Now[..12]}…, verified {evidence.Entry.RemoteSha256![..Math.Min(12, evidence.Entry.RemoteSha256!.Length)]}…)"); continue; }
                ok++;
            }
        }
        if (total == 0) return None($"the queues under {QueueScripts.QueuesRoot(host)} own no cell on this host");
        return new GateResult(total, ok, missing);
    }

    /// <summary>Runs the gate on one host: its queues and fresh artifact hashes, judged against the ledger.</summary>
    public static async Task<GateResult> CheckAsync(IHostShell shell, GpuHost host, string keep, EvidenceLedger ledger, CancellationToken ct)
    {
        var output = await shell.RunAsync(Script(host, keep), TimeSpan.FromMinutes(30), ct).ConfigureAwait(false);
        return Check(host, output, ledger.Read(), keep);
    }

    /// <summary>The refusal for a closed gate, naming the cmdlets that would open it for this host.</summary>
    public static RgtException Refusal(GpuHost host, GateResult gate)
    {
        var fix = $"Pull and verify: Get-GpuJob {Quote(host.Name)} | Receive-Checkpoint -Destination ./{host.Name}-results | Test-Checkpoint; or accept the loss with Remove-GpuRental {Quote(host.Name)} -SkipVerification.";
        return gate.NoEvidence is not null
            ? new RgtException("TeardownNoEvidence", FailureKind.SecurityError,
                $"{host.Name}: refusing to tear down: there is no evidence that its results are safe: {gate.NoEvidence}. Only cells launched by Start-GpuQueue and verified after a pull open the gate. {fix}")
            : new RgtException("TeardownNotVerified", FailureKind.SecurityError,
                $"{host.Name}: refusing to tear down: {gate.Verified} of {gate.Total} cells verified. {string.Join("; ", gate.Missing)}. {fix}");
    }

    /// <summary>A name as PowerShell reads it back: bare when plain, else single-quoted.</summary>
    static string Quote(string name) =>
        System.Text.RegularExpressions.Regex.IsMatch(name, "^[A-Za-z0-9_.-]+$") ? name : "'" + name.Replace("'", "''") + "'";

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
        var tiers = p.Storage.Where(t => t.Path is not null).ToList();
        var survives = tiers.Where(t => irreversible ? t.SurvivesDestroy?.StartsWith("true", StringComparison.OrdinalIgnoreCase) == true : t.SurvivesStop?.StartsWith("true", StringComparison.OrdinalIgnoreCase) == true).Select(t => t.Path).ToList();
        var deleted = tiers.Where(t => !survives.Contains(t.Path)).Select(t => t.Path).ToList();
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
