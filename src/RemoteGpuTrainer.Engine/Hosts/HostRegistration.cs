using System.Text.RegularExpressions;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Platforms;

namespace RemoteGpuTrainer.Engine.Hosts;

/// <summary>What New-GpuRental asks for, beyond the connection string.</summary>
public sealed record RentalRequest(
    string ConnectionString,
    string? Name = null,
    string? Platform = null,
    string? IdentityFile = null,
    string[]? Tags = null,
    string? DataDir = null,
    string? DurableDir = null,
    string? Region = null,
    string? Python = null,
    string? Notes = null,
    bool Force = false,
    bool MustBeNew = false);

/// <summary>The registered host, whether it was new, and what to tell the user once.</summary>
/// <param name="Warnings">What can cost money or data soon (two nearest danger clocks, a missing durable directory, a name clash).</param>
/// <param name="Details">The rest of what the platform's profile tells a new user, for -Verbose.</param>
public sealed record RentalRegistration(GpuHost Host, bool Created, GpuPlatform Platform, IReadOnlyList<string> Warnings, IReadOnlyList<string> Details);

/// <summary>Registers SSH rentals in the inventory: parse, guess the platform, fill paths, upsert.</summary>
public static class HostRegistration
{
    static readonly Regex NamePattern = new(@"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", RegexOptions.CultureInvariant);

    public static void ValidateName(string name)
    {
        if (!NamePattern.IsMatch(name ?? ""))
            throw new RgtException("HostNameInvalid", FailureKind.InvalidArgument,
                $"'{ConnectionString.Printable(name ?? "")}' is not a valid host name for the inventory: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit.");
    }

    public static string[] ValidateTags(IEnumerable<string>? tags)
    {
        var list = (tags ?? Enumerable.Empty<string>()).Select(t => t?.Trim() ?? "").ToList();
        foreach (var t in list)
            if (t.Length == 0 || t.Length > 64 || t.Any(char.IsControl))
                throw new RgtException("TagInvalid", FailureKind.InvalidArgument,
                    $"'{ConnectionString.Printable(t)}' is not a valid tag: use 1-64 printable characters without line breaks.");
        return list.Distinct(StringComparer.OrdinalIgnoreCase).ToArray();
    }

    /// <summary>
    /// Refuses a name the inventory already has, before anything is created: a new cloud rental under
    /// it would replace the entry of a rental that bills on, unregistered.
    /// </summary>
    public static void EnsureNameFree(IEnumerable<GpuHost> hosts, string name)
    {
        if (hosts.FirstOrDefault(h => string.Equals(h.Name, name, StringComparison.OrdinalIgnoreCase)) is { } existing) throw NameTaken(existing);
    }

    static RgtException NameTaken(GpuHost existing) =>
        new("HostNameTaken", FailureKind.InvalidArgument,
            $"The inventory already has a host named '{existing.Name}' ({existing.Endpoint}{(existing.RentalId is { } id ? $", {existing.Provider} rental {id}" : "")}); nothing was created. " +
            $"Choose another -Name, rename the existing one with Set-GpuHost '{existing.Name}' -NewName <name>, or remove it with Remove-GpuHost '{existing.Name}' once its rental is ended.");

    public static RentalRegistration Register(RentalRequest request, HostInventory inventory, PlatformCatalog catalog, DateTimeOffset now)
    {
        var cs = ConnectionString.Parse(request.ConnectionString);
        var typoWarning = CheckBareName(cs, request.Force);
        var platform = request.Platform is null ? catalog.GuessFromHostName(cs.HostName) : catalog.Get(request.Platform);
        if (request.Name is not null) ValidateName(request.Name);
        var tags = ValidateTags(request.Tags);
        var identity = request.IdentityFile ?? cs.IdentityFile;
        var name = request.Name ?? DefaultName(cs, platform);
        ValidateName(name);

        GpuHost? result = null;
        bool created = false;
        string? sharedWith = null;
        inventory.Update(hosts =>
        {
            var existing = request.Name is not null
                ? hosts.FirstOrDefault(h => string.Equals(h.Name, request.Name, StringComparison.OrdinalIgnoreCase))
                : null;
            if (request.MustBeNew && existing is not null) throw NameTaken(existing);
            // A new -Name never renames a host found by its endpoint (its DataDir and its evidence go by
            // name): two names may share a box (two projects); renaming is Set-GpuHost -NewName.
            if (existing is null && request.Name is not null)
                sharedWith = hosts.FirstOrDefault(h => SameEndpoint(h, cs))?.Name;
            else existing ??= hosts.FirstOrDefault(h => SameEndpoint(h, cs));
            if (existing is null && hosts.Any(h => string.Equals(h.Name, name, StringComparison.OrdinalIgnoreCase)))
                throw new RgtException("HostNameTaken", FailureKind.InvalidArgument,
                    $"A different endpoint is already registered as '{name}'. Pass -Name to choose another name, or Remove-GpuHost '{name}' first.");
            if (existing is null)
            {
                created = true;
                result = new GpuHost
                {
                    Name = name, HostName = cs.HostName, Port = cs.Port, User = cs.User, IdentityFile = identity, ProxyJump = cs.ProxyJump,
                    Platform = platform.Name, Region = request.Region, Tags = tags,
                    DataDir = request.DataDir ?? platform.DataDir, DurableDir = request.DurableDir ?? platform.DurableDir,
                    ProxyHook = NullIfEmpty(platform.ProxyHook), CredFile = NullIfEmpty(platform.CredFile),
                    Python = request.Python, CreatedAt = now, Notes = request.Notes,
                };
                hosts.Add(result);
            }
            else
            {
                // Re-registering updates the endpoint (ports change when an instance is re-created) and
                // only the fields that were given; it never adds a second entry.
                result = existing with
                {
                    Name = existing.Name,
                    HostName = cs.HostName, Port = cs.Port, User = cs.User ?? existing.User,
                    IdentityFile = identity ?? existing.IdentityFile, ProxyJump = cs.ProxyJump ?? existing.ProxyJump,
                    Platform = request.Platform is null ? existing.Platform : platform.Name,
                    Region = request.Region ?? existing.Region,
                    Tags = request.Tags is null ? existing.Tags : tags,
                    DataDir = request.DataDir ?? existing.DataDir, DurableDir = request.DurableDir ?? existing.DurableDir,
                    Python = request.Python ?? existing.Python, Notes = request.Notes ?? existing.Notes,
                };
                hosts[hosts.IndexOf(existing)] = result;
            }
            return hosts;
        });

        var warnings = new List<string>();
        var details = new List<string>();
        if (created)
        {
            var advice = Platforms.RegistrationAdvice.For(platform, result!, now,
                p => Platforms.RegistrationAdvice.StaleReminderDue(Path.Combine(Path.GetDirectoryName(inventory.FilePath)!, "reminders.json"), p, now));
            warnings.AddRange(advice.Warnings);
            details.AddRange(advice.Details);
        }
        if (sharedWith is not null)
            warnings.Add($"{result!.Endpoint} is also registered as '{sharedWith}'; '{result.Name}' is a second entry for the same box (to rename instead: Remove-GpuHost {result.Name}; Set-GpuHost {sharedWith} -NewName {result.Name}).");
        if (typoWarning is not null) warnings.Add(typoWarning);
        warnings.AddRange(cs.Notes);
        return new RentalRegistration(result!, created, platform, warnings, details);
    }

    /// <summary>
    /// A bare word (no user, no port) must be an ~/.ssh/config Host or a name this machine resolves;
    /// otherwise it is probably a typo, refused unless -Force (then a warning).
    /// </summary>
    static string? CheckBareName(ConnectionString cs, bool force)
    {
        // Behind a jump host the name is the jump host's to resolve, not this machine's.
        if (cs.User is not null || cs.Port is not null || cs.ProxyJump is not null || System.Net.IPAddress.TryParse(cs.HostName, out _)) return null;
        if (Ssh.SshConfigFile.Resolve(cs.HostName).NamedHost) return null;
        if (Resolves(cs.HostName)) return null;
        var why = $"'{cs.HostName}' is neither a Host in {Ssh.SshConfigFile.DefaultPath} nor a name this machine resolves";
        if (!force)
            throw new RgtException("HostNameUnresolved", FailureKind.NotFound,
                $"{why}: a typo? Give the connection string the console prints (ssh -p PORT user@host), add the alias to ~/.ssh/config, or pass -Force to register it anyway.");
        return why + "; registered anyway (-Force).";
    }

    static bool Resolves(string name)
    {
        try
        {
            var lookup = System.Net.Dns.GetHostAddressesAsync(name);
            return lookup.Wait(TimeSpan.FromSeconds(3)) && lookup.Result.Length > 0;
        }
        catch (Exception ex) when (ex is AggregateException or System.Net.Sockets.SocketException or ArgumentException) { return false; }
    }

    static string? NullIfEmpty(string? s) => string.IsNullOrEmpty(s) ? null : s;

    static bool SameEndpoint(GpuHost h, ConnectionString cs) =>
        string.Equals(h.HostName, cs.HostName, StringComparison.OrdinalIgnoreCase) && h.Port == cs.Port &&
        (cs.User is null || h.User is null || string.Equals(h.User, cs.User, StringComparison.Ordinal));

    static string DefaultName(ConnectionString cs, GpuPlatform platform)
    {
        if (cs.Port is null && cs.User is null) return cs.HostName; // an ~/.ssh/config alias or bare host keeps its name
        var first = cs.HostName.Split('.')[0];
        var basis = platform.Name == "generic-ssh" || System.Net.IPAddress.TryParse(cs.HostName, out _) ? cs.HostName.Replace(':', '-') : platform.Name;
        if (platform.Name != "generic-ssh" && first is not ("connect" or "ssh" or "region")) basis = platform.Name + "-" + first;
        return cs.Port is null ? basis : $"{basis}-{cs.Port}";
    }
}
