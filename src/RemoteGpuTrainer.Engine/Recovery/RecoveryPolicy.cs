using System.Text.Json;
using System.Text.RegularExpressions;

namespace RemoteGpuTrainer.Engine.Recovery;

/// <summary>
/// What Start-GpuQueue -Recover records beside the queue: the checkpoints to keep mirrored while the cells
/// run (and where), and the limits a recovery must stay within. Read by every tick that mirrors.
/// </summary>
/// <param name="Artifacts">The files of a cell's checkpoint directory to mirror: the resume artifact first (latest.pth), then the kept one (best.pth).</param>
/// <param name="MirrorRoot">The local store; a cell's copies go to &lt;root&gt;/&lt;host&gt;/&lt;queue&gt;/&lt;index&gt;-&lt;cell&gt;.</param>
/// <param name="Relaunch">How to launch the queue again on the recovered box: the frozen queue text and the launch's options.</param>
public sealed record RecoveryPolicy(
    string Host, string QueueId, IReadOnlyList<string> Artifacts, string MirrorRoot,
    int MaxRecoveries = 3, decimal? MaxSpend = null, DateTimeOffset? CreatedAt = null, RelaunchSpec? Relaunch = null)
{
    /// <summary>What the next rental is rented like when the taken one does not come back (default: the template the rental was created with).</summary>
    public Rentals.RentalTemplate? RecoverFrom { get; init; }

    /// <summary>How long the provider may take to start the taken rental again before the next offer is rented instead; zero: rent at once.</summary>
    public TimeSpan RestartWithin { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>A local shell script run on a newly rented box (in the queue's working directory) before the cells are relaunched there.</summary>
    public string? SetupScript { get; init; }

    /// <summary>Local files and folders pushed to a newly rented box's working directory (a folder's contents go there).</summary>
    public IReadOnlyList<string> Sync { get; init; } = Array.Empty<string>();

    /// <summary>The hourly price of the rental the queue started on (the first link of its spend).</summary>
    public decimal? StartPrice { get; init; }

    /// <summary>A queue's policy: its host's resume artifact (latest.pth) and kept one (best.pth), mirrored under <paramref name="mirrorRoot"/> (default: mirror/ in the config directory).</summary>
    public static RecoveryPolicy For(string host, string queueId, Queues.GpuPlatformDefaults defaults, string? mirrorRoot, int maxRecoveries, decimal? maxSpend, DateTimeOffset now,
        RelaunchSpec? relaunch = null) =>
        new(host, queueId, new[] { defaults.Scratch, defaults.Keep }.Distinct().ToArray(),
            Path.GetFullPath(mirrorRoot ?? Path.Combine(ConfigPaths.ConfigDirectory, "mirror")), maxRecoveries, maxSpend, now, relaunch);

    /// <summary>
    /// The policy Start-GpuQueue -Recover records for one host's launch: the options, the host's rental
    /// price as the first link of the spend, and -RecoverFrom's offers as the template (image, disk and user
    /// from the host's own template).
    /// </summary>
    public static RecoveryPolicy ForLaunch(Model.GpuHost host, string queueId, Queues.GpuPlatformDefaults defaults, RecoveryOptions options, RelaunchSpec relaunch, DateTimeOffset now) =>
        For(host.Name, queueId, defaults, options.MirrorRoot, options.MaxRecoveries, options.MaxSpend, now, relaunch) with
        {
            RecoverFrom = options.RecoverFrom is { Count: > 0 } offers
                ? Rentals.RentalTemplate.FromOffers(offers, host.RentalTemplate?.Image, host.RentalTemplate?.DiskGB ?? 50, host.RentalTemplate?.User) : null,
            RestartWithin = options.RestartWithin,
            SetupScript = options.SetupScript,
            Sync = options.Sync,
            StartPrice = host.HourlyPrice,
        };

    /// <summary>The local folder of one cell's mirror.</summary>
    public string CellDirectory(int index, string cell) =>
        Path.Combine(MirrorRoot, Safe(Host), Safe(QueueId), $"{index:00}-{Safe(cell)}");

    static string Safe(string name) => Regex.Replace(name, @"[^A-Za-z0-9._-]+", "_").Trim('.') is { Length: > 0 } s ? s : "_";
}

/// <summary>Start-GpuQueue -Recover's options, local paths resolved.</summary>
public sealed record RecoveryOptions(string? MirrorRoot, int MaxRecoveries, decimal? MaxSpend, IReadOnlyList<Model.GpuOffer>? RecoverFrom, TimeSpan RestartWithin,
    string? SetupScript, IReadOnlyList<string> Sync)
{
    /// <summary>Refuses, before anything is launched, a -SetupScript or -Sync path that does not exist here.</summary>
    public void Check()
    {
        if (SetupScript is not null && !File.Exists(SetupScript))
            throw new RgtException("SetupScriptNotFound", FailureKind.NotFound, $"-SetupScript {SetupScript} does not exist.");
        foreach (var p in Sync)
            if (!File.Exists(p) && !Directory.Exists(p))
                throw new RgtException("PathNotFound", FailureKind.NotFound, $"-Sync {p} does not exist.");
    }
}

/// <summary>What a relaunch needs to build the same launch plan again: the queue file's text and name, its template, this host's cells, how it ran.</summary>
public sealed record RelaunchSpec(string QueueText, string QueueFile, string? CommandTemplate, IReadOnlyList<string> Owned, string Detach, string? WorkingDirectory)
{
    /// <summary>The spec of a launch: its queue text as read, and this host's cells and options from its plan.</summary>
    public static RelaunchSpec Of(string queueText, string queueFile, string? commandTemplate, Queues.LaunchPlan plan) =>
        new(queueText, queueFile, commandTemplate, plan.Owned.Select(c => c.Name).ToList(), plan.Detach, plan.WorkingDirectory);

    public Queues.LaunchPlan Plan(string queueId)
    {
        var cells = Queues.QueueFile.Parse(QueueText, QueueFile, CommandTemplate);
        return new Queues.LaunchPlan(queueId, cells, cells.Where(c => Owned.Contains(c.Name)).ToList(), 1, Detach, WorkingDirectory);
    }
}

/// <summary>The recovery policies, one JSON file per host and queue under the config directory (written atomically, under the state lock).</summary>
public sealed class RecoveryStore
{
    static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public RecoveryStore(string? directory = null) => Directory = directory ?? Path.Combine(ConfigPaths.ConfigDirectory, "recovery");

    public string Directory { get; }

    string FileOf(string host, string queueId) =>
        Path.Combine(Directory, Regex.Replace($"{host}__{queueId}", @"[^A-Za-z0-9._-]+", "_") + ".json");

    /// <summary>The queue's recovery journal: one JSON line per step, appended, read back by later ticks and by Get-GpuJob.</summary>
    public string JournalOf(string host, string queueId) => Path.ChangeExtension(FileOf(host, queueId), ".journal.jsonl");

    /// <summary>The lock one recovery of the queue holds for its whole run; null when another tick holds it now.</summary>
    public FileLock? TryLock(string host, string queueId)
    {
        try { return FileLock.Acquire(Path.ChangeExtension(FileOf(host, queueId), ".recovering"), TimeSpan.Zero); }
        catch (RgtException ex) when (ex.ErrorId == "StateLocked") { return null; }
    }

    /// <summary>The policies of the host's queues (an unreadable one is an error, as in <see cref="Find"/>).</summary>
    public IReadOnlyList<RecoveryPolicy> ForHost(string host)
    {
        if (!System.IO.Directory.Exists(Directory)) return Array.Empty<RecoveryPolicy>();
        var prefix = Regex.Replace(host + "__", @"[^A-Za-z0-9._-]+", "_");
        return System.IO.Directory.GetFiles(Directory, prefix + "*.json").Order(StringComparer.Ordinal)
            .Select(f => Find(host, JsonSerializer.Deserialize<RecoveryPolicy>(File.ReadAllText(f))?.QueueId ?? "")).OfType<RecoveryPolicy>().ToList();
    }

    /// <summary>Start-GpuQueue -Recover: the policy saved, and a "started" line in the journal (an earlier stop no longer stands).</summary>
    public void Start(RecoveryPolicy policy)
    {
        Save(policy);
        new RecoveryJournal(JournalOf(policy.Host, policy.QueueId)).Add(new JournalEntry(DateTimeOffset.UtcNow, "started",
            Detail: $"-MaxRecoveries {policy.MaxRecoveries}{(policy.MaxSpend is { } m ? $", -MaxSpend {m}" : "")}, -RestartWithin {Format.Duration(policy.RestartWithin)}"));
    }

    public void Save(RecoveryPolicy policy)
    {
        var file = FileOf(policy.Host, policy.QueueId);
        using var _ = FileLock.Acquire(file, TimeSpan.FromSeconds(10));
        FileLock.WriteAllTextAtomic(file, JsonSerializer.Serialize(policy, Json));
    }

    /// <summary>The queue's policy; null when it has none. A file that cannot be read is an error, never "no policy".</summary>
    public RecoveryPolicy? Find(string host, string queueId)
    {
        var file = FileOf(host, queueId);
        if (!File.Exists(file)) return null;
        try
        {
            return JsonSerializer.Deserialize<RecoveryPolicy>(File.ReadAllText(file))
                ?? throw new JsonException("empty");
        }
        catch (Exception ex) when (ex is JsonException or IOException or NotSupportedException)
        {
            throw new RgtException("RecoveryPolicyUnreadable", FailureKind.InvalidData,
                $"The recovery policy of {host}/{queueId} ({file}) cannot be read ({ex.Message}); nothing is mirrored until it is fixed or Start-GpuQueue -Recover writes it again.", ex);
        }
    }
}
